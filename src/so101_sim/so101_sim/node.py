"""The `sim` node: the MuJoCo cell behind the follower's and the cameras' topics (wrist_camera/*,
front_camera/*: image_raw, image_proc, camera_info), plus the
simulation-only grasp state, scene reset, stop and torque services (stop holds the arm and
refuses commands until torque_enable(true), as the follower does).

Physics runs in its own thread, paced to `real_time_factor` x wall time (0: as fast as
possible). When not real time, sim time is published on /clock and used for every stamp, so
nodes with use_sim_time stay consistent; it then also holds for the learner (wait_for_learner)
and at each control tick of the actor's episodes for the tick's command (command_hold.py).
Timers here run on the steady clock: the sim is the source of time and must not wait for
itself.
"""
import threading
import time
from typing import Optional

import numpy as np
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.clock import Clock as RosClock
from rclpy.clock import ClockType
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, JointState
from std_msgs.msg import UInt32
from std_srvs.srv import SetBool, Trigger

from hilserl_common import qos
from hilserl_common.diagnostics import status_array
from hilserl_common.images import to_msg
from hilserl_common.node import Node, main_for
from hilserl_common.params import load_config
from hilserl_common.preprocessing import preprocess
from hilserl_common.stamps import NS_PER_S
from hilserl_interfaces.msg import ActorStatus, EpisodeStats, GraspState, LearnerProgress
from hilserl_interfaces.srv import ResetScene
from so101_description.cameras import FRONT_CAMERA, WRIST_CAMERA
from so101_description.model import JOINT_NAMES
from so101_sim.cell import SimulatedCell
from so101_sim.command_hold import CommandHold
from so101_sim.config import CellConfig, SimNodeConfig
from so101_sim.learner_pace import LearnerPace
from so101_sim.streams import CameraStream, Schedule, ns_to_time, pose_msg

BASE_FRAME = 'base'


class SimNode(Node):
    def __init__(self):
        super().__init__('sim')
        self.cell_config = load_config(self, CellConfig)
        self.config = load_config(self, SimNodeConfig)
        self.cell = SimulatedCell(self.cell_config)
        self.lock = threading.Lock()
        # The sim clock starts at the whole second of the wall time at start-up and counts
        # whole nanoseconds (a float of 1.8e9 s loses microseconds adding 4 ms chunks): every
        # stream's instants then lie on whole periods of the clock, as the actor's ticks do.
        self.start_ns = time.time_ns() // NS_PER_S * NS_PER_S
        self.elapsed_ns = 0
        self.publishes_clock = (self.config.real_time_factor != 1.0
                                or self.config.wait_for_learner)
        self.evaluating = False  # the actor's episode is an evaluation (its actor_status)
        # Only a graph on sim time can change speed: the other nodes then follow /clock.
        if self.publishes_clock and self.config.evaluation_real_time_factor > 0:
            self.create_subscription(ActorStatus, 'actor_status', self._on_actor_status,
                                     qos.COMMANDS)
        self.command_hold = None
        if self.publishes_clock and self.config.hold_for_commands:
            self.command_hold = CommandHold(self.config.control_rate_hz, self.start_ns,
                                            self.config.command_wait_s)
            # The actor's episodes (the same namespace): their ticks are held
            self.create_subscription(UInt32, 'episode_start',
                                     lambda _: self.command_hold.episode_started(),
                                     qos.COMMANDS)
            self.create_subscription(EpisodeStats, 'episode_stats',
                                     lambda _: self.command_hold.episode_ended(), qos.COMMANDS)
        self.pace = None
        if self.config.wait_for_learner:
            self.pace = LearnerPace(self.config.learner_slack_updates,
                                    self.config.learner_timeout_s)
            self.create_subscription(LearnerProgress, '/learner_progress',
                                     lambda msg: self.pace.heard(msg.updates_owed), qos.COMMANDS)

        self.joint_pub = self.create_publisher(JointState, 'joint_states', qos.SENSOR_RELIABLE)
        rates = {WRIST_CAMERA: self.config.camera_rate_hz,
                 FRONT_CAMERA: self.config.front_camera_rate_hz}
        if self.publishes_clock and self.config.render_at_ticks:
            rates = {name: min(rate, self.config.control_rate_hz) for name, rate in rates.items()}
        self.cameras = {name: CameraStream(self, name, rate, self.start_ns)
                        for name, rate in rates.items() if rate > 0}
        self.grasp_pub = self.create_publisher(GraspState, 'sim/grasp_state',
                                               qos.SENSOR_RELIABLE)
        self.clock_pub = (self.create_publisher(Clock, '/clock', qos.CLOCK)
                          if self.publishes_clock else None)
        self.create_subscription(JointState, 'joint_commands', self._on_command, qos.COMMANDS)
        self.create_service(ResetScene, 'sim/reset_scene', self._on_reset)
        self.create_service(Trigger, 'stop', self._on_stop)
        self.create_service(SetBool, 'torque_enable', self._on_torque)
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics',
                                                     qos.COMMANDS)
        self.stats = {'commands': 0, 'rejected_commands': 0, 'resets': 0, 'frames': 0,
                      'render_s': 0.0, 'behind': 0}
        self._last_report = (time.monotonic(), 0.0)  # wall time, sim elapsed
        self._waited_before = 0.0
        # The sim makes the time: its own timers run on the steady clock, never on /clock.
        self.create_timer(1.0, self._publish_diagnostics,
                          clock=RosClock(clock_type=ClockType.STEADY_TIME))

        self.schedules = {name: Schedule(rate, self.start_ns) for name, rate in (
            ('joints', self.config.joint_state_rate_hz),
            ('grasp', self.config.grasp_state_rate_hz),
            ('clock', self.config.clock_rate_hz))}
        # After `stop`, like the follower: joint_commands and scene resets are refused (the arm
        # holds where it stopped) until torque_enable(true).
        self.stopped = False
        self.running = True
        self.failed = False
        self.thread = threading.Thread(target=self._physics_loop, name='physics', daemon=True)
        self.thread.start()
        speed = ('as fast as possible' if self.config.real_time_factor == 0
                 else f'{self.config.real_time_factor:g}x real time')
        self.get_logger().info(f'simulated SO-101 running at {speed}'
                               + (', publishing /clock' if self.publishes_clock else ''))

    # --- physics thread --------------------------------------------------------------------

    def _physics_loop(self):
        try:
            self._run_physics()
        except Exception as error:  # e.g. no OpenGL: say so and stop the node, never hang
            self.get_logger().fatal(f'simulation stopped: {type(error).__name__}: {error}')
            self.failed = True
            self.context.try_shutdown()

    def _run_physics(self):
        chunk = self.config.physics_chunk_s
        factor = self.speed()
        with self.lock:
            self.cell.render()  # creates the GL context in this thread, before pacing starts
        wall_anchor, sim_anchor = time.monotonic(), 0.0
        # Also ends when the context is shut down (Ctrl-C) even if destroy_node never runs.
        while self.running and self.context.ok():
            if self.pace is not None and self.pace.holding():
                self.pace.wait()  # sim time stands still; pacing restarts from here
                wall_anchor, sim_anchor = time.monotonic(), self.sim_elapsed_s
                continue
            if self.speed() != factor:  # an evaluation began or ended: pace anew from here
                factor = self.speed()
                wall_anchor, sim_anchor = time.monotonic(), self.sim_elapsed_s
            with self.lock:
                # the physics' own time, not the chunk asked for: counting 5 ms chunks that
                # stepped 4 ms ran the physics at 0.8 x the clock the graph saw
                stepped = self.cell.step(chunk)
            self.elapsed_ns += round(stepped * NS_PER_S)
            hold = self.command_hold is not None and self.command_hold.reached(self.now_ns)
            try:
                self._publish_due()
            except Exception as error:  # a publish failing at shutdown must not kill physics
                if self.running and self.context.ok():
                    self.get_logger().error(f'publishing failed: {error}',
                                            throttle_duration_sec=5.0)
            # The tick's messages are out: its command takes effect at its instant. A hold that
            # was answered keeps the pace (the time held is made up); one that timed out
            # restarts it, as the learner's hold does.
            if hold and not self.command_hold.hold(lambda: not (self.running
                                                                 and self.context.ok())):
                wall_anchor, sim_anchor = time.monotonic(), self.sim_elapsed_s
            if factor == 0:
                time.sleep(0)  # let command and service callbacks take the lock in between
            else:
                lag = time.monotonic() - (wall_anchor + (self.sim_elapsed_s - sim_anchor)
                                          / factor)
                if lag < 0:
                    time.sleep(-lag)
                elif lag > 0.25:  # overloaded: drop the backlog rather than run in a burst
                    self.stats['behind'] += 1
                    self.get_logger().warning(f'simulation {lag:.2f} s behind real time; '
                                              'skipping ahead', throttle_duration_sec=10.0)
                    wall_anchor, sim_anchor = time.monotonic(), self.sim_elapsed_s
        self.cell.close()  # the GL context is this thread's

    @property
    def sim_elapsed_s(self) -> float:
        return self.elapsed_ns / NS_PER_S

    @property
    def now_ns(self) -> int:
        """The sim clock: whole nanoseconds since the epoch."""
        return self.start_ns + self.elapsed_ns

    def speed(self) -> float:
        """The real-time factor to pace at now (0: as fast as possible)."""
        factor = self.config.real_time_factor
        if self.evaluating and factor > 0:  # only set when evaluation_real_time_factor > 0
            return max(factor, self.config.evaluation_real_time_factor)
        return factor

    def _on_actor_status(self, msg: ActorStatus):
        self.evaluating = msg.mode == 'eval'

    def _stamp(self) -> Time:
        if self.publishes_clock:
            return ns_to_time(self.now_ns)
        return self.get_clock().now().to_msg()

    def _publish_due(self):
        now = self.now_ns
        stamp = self._stamp()
        if self.schedules['joints'].due(now):
            with self.lock:
                positions = self.cell.joint_positions()
                velocities = self.cell.joint_velocities()
                efforts = self.cell.joint_efforts()
            msg = JointState(name=list(JOINT_NAMES), position=positions.tolist(),
                             velocity=velocities.tolist(), effort=efforts.tolist())
            msg.header.stamp = stamp
            self.joint_pub.publish(msg)
        if self.schedules['grasp'].due(now):
            with self.lock:
                info = self.cell.grasp_info()
            msg = GraspState(cube_pose=pose_msg(info.cube_position, info.cube_quat_wxyz),
                             gripper_contact=info.gripper_contact, grasped=info.grasped,
                             cube_height=float(info.cube_height), success=info.success)
            msg.header.stamp = stamp
            msg.header.frame_id = BASE_FRAME
            self.grasp_pub.publish(msg)
        for camera in self.cameras.values():
            if camera.schedule.due(now):
                self._publish_frame(camera, stamp)
        # The clock last: a node woken by this instant finds its sensor messages already sent.
        if self.clock_pub is not None and self.schedules['clock'].due(now):
            self.clock_pub.publish(Clock(clock=stamp))

    def _publish_frame(self, camera: CameraStream, stamp) -> None:
        started = time.perf_counter()
        with self.lock:
            frame = self.cell.render(camera.name)
        self.stats['render_s'] += time.perf_counter() - started
        self.stats['frames'] += 1
        camera.raw.publish(to_msg(frame, stamp, camera.name))
        camera.processed.publish(to_msg(preprocess(frame), stamp, camera.name))
        camera.info.publish(self._camera_info(camera.name, stamp))

    def _camera_info(self, camera: str, stamp) -> CameraInfo:
        k = self.cell.camera_intrinsics(camera)
        info = CameraInfo(width=self.cell_config.image_width,
                          height=self.cell_config.image_height, distortion_model='plumb_bob')
        info.header.stamp = stamp
        info.header.frame_id = camera
        info.d = [0.0] * 5
        info.k = k.reshape(-1).tolist()
        info.r = np.eye(3).reshape(-1).tolist()
        info.p = np.hstack([k, np.zeros((3, 1))]).reshape(-1).tolist()
        return info

    # --- callbacks ---------------------------------------------------------------------

    def _on_command(self, msg: JointState):
        try:
            self._apply_command(msg)
        finally:  # after the targets are set: a held tick goes on with them
            if self.command_hold is not None:
                self.command_hold.heard()

    def _apply_command(self, msg: JointState):
        if self.stopped:
            self.stats['rejected_commands'] += 1
            return
        targets = self._targets_from(msg)
        if targets is None:
            self.stats['rejected_commands'] += 1
            return
        self.stats['commands'] += 1
        with self.lock:
            self.cell.set_joint_targets(targets)

    def _targets_from(self, msg: JointState) -> Optional[np.ndarray]:
        """Joint targets by name (a subset keeps the other targets); by order when unnamed."""
        positions = np.asarray(msg.position, dtype=float)
        if not np.all(np.isfinite(positions)):
            self.get_logger().warning(f'joint_commands with NaN/inf ignored: {positions.tolist()}',
                                      throttle_duration_sec=2.0)
            return None
        with self.lock:
            targets = self.cell.joint_targets()
        if not msg.name:
            if positions.shape != (len(JOINT_NAMES),):
                self.get_logger().warning(f'unnamed joint_commands need {len(JOINT_NAMES)} '
                                          f'positions, got {positions.size}; ignored',
                                          throttle_duration_sec=2.0)
                return None
            return positions
        if len(msg.name) != positions.size or any(n not in JOINT_NAMES for n in msg.name):
            self.get_logger().warning(f'joint_commands names {list(msg.name)} do not match '
                                      f'{positions.size} positions or the joints '
                                      f'{list(JOINT_NAMES)}; ignored', throttle_duration_sec=2.0)
            return None
        for name, value in zip(msg.name, positions):
            targets[JOINT_NAMES.index(name)] = value
        return targets

    def _on_reset(self, request, response):
        if self.stopped:
            response.success = False
            response.message = 'stopped: the arm holds until torque_enable(true)'
            return response
        seed = None if request.seed < 0 else int(request.seed)
        self.stats['resets'] += 1
        with self.lock:
            cube = self.cell.reset(seed)
            info = self.cell.grasp_info()
        response.success = True
        response.message = f'cube at {np.round(cube, 3).tolist()}'
        response.cube_pose = pose_msg(info.cube_position, info.cube_quat_wxyz)
        return response

    def _on_stop(self, request, response):
        self.stopped = True
        with self.lock:
            self.cell.hold()
        response.success = True
        response.message = ('holding the current joint positions; joint_commands are ignored '
                            'until torque_enable(true)')
        self.get_logger().warning('stop: ' + response.message)
        return response

    def _on_torque(self, request, response):
        if request.data:
            self.stopped = False
        with self.lock:
            self.cell.set_torque(bool(request.data))
        response.success = True
        response.message = 'torque ' + ('on' if request.data else 'off')
        return response

    def _publish_diagnostics(self):
        wall, sim = time.monotonic(), self.sim_elapsed_s
        factor = (sim - self._last_report[1]) / max(wall - self._last_report[0], 1e-6)
        self._last_report = (wall, sim)
        frames = max(self.stats['frames'], 1)
        wanted = self.speed()  # the pace in force (evaluation episodes may have their own)
        waited = self.pace.waited_s if self.pace else 0.0
        held = waited - self._waited_before  # time spent waiting for the learner this period
        self._waited_before = waited
        slow = wanted > 0 and factor < 0.8 * wanted and held < 0.1
        values = {'achieved_real_time_factor': f'{factor:.2f}',
                  'configured_real_time_factor': f'{wanted:g}',
                  'render_ms_mean': f'{self.stats["render_s"] / frames * 1000:.2f}',
                  'waited_for_learner_s': f'{waited:.1f}',
                  **self._hold_values(),
                  **{key: str(value) for key, value in self.stats.items() if key != 'render_s'}}
        self.diagnostics_pub.publish(status_array(
            self._stamp(), DiagnosticStatus.WARN if slow else DiagnosticStatus.OK,
            f'{self.get_fully_qualified_name()}: simulation',
            'slower than configured' if slow else
            'waiting for the learner' if held >= 0.1 else 'running', 'mujoco', values))

    def _hold_values(self) -> dict:
        hold = self.command_hold
        if hold is None:
            return {}
        return {'held_for_commands_s': f'{hold.held_s:.1f}', 'command_holds': str(hold.holds),
                'command_hold_timeouts': str(hold.timeouts)}

    def destroy_node(self):
        self.running = False
        if self.thread.is_alive():
            self.thread.join(timeout=5.0)
        return super().destroy_node()


main = main_for(SimNode)
