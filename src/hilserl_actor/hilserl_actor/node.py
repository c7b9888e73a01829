"""The actor node: a thin ROS shell around ActorSession (hilserl_actor.session).

The node is the session's ActorIO: subscriptions keep the newest input of each kind; the control
loop runs in its own thread at the configured rate on the node's clock (sim time when the
simulation runs faster than real time); resets go through the sim's service and the IK reset;
joint commands, transitions and episode statistics are published; new policy weights are
swapped in between steps as soon as they arrive (during an evaluation round, when it ends).
"""
import gc
import os
import threading
import traceback
from typing import Optional

import numpy as np
import rclpy
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool, String, UInt32

from hilserl_actor.config import ActorConfig
from hilserl_actor.control_rate import ControlRate
from hilserl_actor.episode import EpisodeLoop, Snapshot, Transition
from hilserl_actor.inputs import LatestInputs, OperatorMarks
from hilserl_actor.messages import (
    actor_status_msg,
    episode_stats_msg,
    sim_state_of,
    transition_msg,
)
from hilserl_actor.policy_client import PolicyClient
from hilserl_actor.recording import EpisodeRecorder
from hilserl_actor.reward_gate import RewardGate, RewardGateConfig
from hilserl_actor.session import ActorSession
from hilserl_common import qos
from hilserl_common.config import ConfigError
from hilserl_common.images import from_msg
from hilserl_common.node import Node, main_for
from hilserl_common.params import load_config
from hilserl_common.stamps import seconds
from hilserl_interfaces.msg import (
    ActorStatus,
    EpisodeStats,
    GraspState,
    LearnerStats,
    PolicyWeights,
    RewardPrediction,
)
from hilserl_interfaces.msg import Transition as TransitionMsg
from hilserl_interfaces.srv import ResetScene
from hilserl_learner.policy.weights import FORMAT
from so101_description.model import JOINT_NAMES, joints_in_model_order
from so101_kinematics.kinematics import Kinematics, KinematicsConfig
from so101_kinematics.reset import ResetConfig, ik_reset


class ActorNode(Node):
    def __init__(self):
        super().__init__('actor')
        self.config = load_config(self, ActorConfig)
        self.kinematics = Kinematics(load_config(self, KinematicsConfig))
        self.reset_config = load_config(self, ResetConfig)
        self.actor_id = self.config.actor_id or self.get_namespace().strip('/') or 'actor'
        self.policy = PolicyClient(self.config.seed, self.config.weights_device,
                                   self.config.torch_threads)
        if self.config.policy_file:
            error = self.policy.load_file(self.config.policy_file)
            if error:
                raise ConfigError(f'policy_file {self.config.policy_file}: {error}')
            self.get_logger().info(f'policy version {self.policy.version} loaded from '
                                   f'{self.config.policy_file}')
        self.inputs = LatestInputs()
        self.rng = np.random.default_rng(self.config.seed)
        self._stopping = threading.Event()

        inputs = ReentrantCallbackGroup()
        self.create_subscription(JointState, 'joint_states', self._on_joints,
                                 qos.SENSOR_RELIABLE, callback_group=inputs)
        self.create_subscription(Image, 'wrist_camera/image_proc', self._on_image, qos.SENSOR,
                                 callback_group=inputs)
        self.create_subscription(JointState, 'leader/joint_states', self._on_leader,
                                 qos.SENSOR_RELIABLE, callback_group=inputs)
        self.create_subscription(Bool, 'intervention', self._on_intervention, qos.COMMANDS,
                                 callback_group=inputs)
        if self.config.reward_source == 'classifier':
            self.create_subscription(RewardPrediction, 'reward', self._on_reward, qos.COMMANDS,
                                     callback_group=inputs)
        # The simulation's privileged success: the reward when reward_source is sim; with the
        # classifier as reward it still decides evaluation episodes (a policy is measured by
        # what it did, not by what the classifier thought) and is recorded next to it.
        self._sim_state = None  # SimState of the newest sim/grasp_state
        if self.config.sim or self.config.reward_source == 'sim':
            self.create_subscription(GraspState, 'sim/grasp_state', self._on_grasp_state,
                                     qos.SENSOR_RELIABLE, callback_group=inputs)
        self.create_subscription(PolicyWeights, '/policy_weights', self._on_weights, qos.LATCHED,
                                 callback_group=MutuallyExclusiveCallbackGroup())
        self._learner_heard_s = None  # the node's time of the learner's newest statistics
        self.create_subscription(LearnerStats, '/learner_stats', self._on_learner_stats,
                                 qos.COMMANDS, callback_group=inputs)
        self.command_pub = self.create_publisher(JointState, 'joint_commands', qos.COMMANDS)
        self.transition_pub = self.create_publisher(TransitionMsg, '/transitions',
                                                    qos.TRANSITIONS)
        self.stats_pub = self.create_publisher(EpisodeStats, 'episode_stats', qos.COMMANDS)
        self.status_pub = self.create_publisher(ActorStatus, 'actor_status', qos.COMMANDS)
        self.start_pub = self.create_publisher(UInt32, 'episode_start', qos.COMMANDS)
        self.reset_client = self.create_client(ResetScene, 'sim/reset_scene',
                                               callback_group=MutuallyExclusiveCallbackGroup())
        self.create_subscription(String, 'operator_event', self._on_operator_event, qos.COMMANDS,
                                 callback_group=inputs)
        self.marks = OperatorMarks()
        self.recorder = self._start_recording(inputs) if self.config.mode == 'record' else None
        self.rate = ControlRate(self, self.config.control_rate_hz)
        self.session = ActorSession(
            self.config, EpisodeLoop(self.config, self.kinematics, self.policy), self,
            self.get_logger(), self.recorder,
            gate=RewardGate(load_config(self, RewardGateConfig), self.kinematics))
        # A full garbage collection walks every object (torch, MuJoCo, rclpy: ~100 ms here)
        # with the GIL held and stalled the loop several times a minute; long-lived objects
        # are moved out of its reach (again once a policy is built).
        gc.freeze()
        self._thread = threading.Thread(target=self._run, name='control_loop', daemon=True)
        self._thread.start()

    # --- inputs ---------------------------------------------------------------------------

    def now_s(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_joints(self, msg: JointState):
        joints = joints_in_model_order(msg.name, msg.position)
        if joints is not None:
            self.inputs.update(joints=joints, joints_time_s=seconds(msg.header.stamp))

    def _on_image(self, msg: Image):
        try:
            image = from_msg(msg)
        except ValueError as error:
            self.get_logger().warning(f'dropping a wrist image: {error}',
                                      throttle_duration_sec=5.0)
            return
        self.inputs.update(image=image, image_time_s=seconds(msg.header.stamp))

    def _on_leader(self, msg: JointState):
        joints = joints_in_model_order(msg.name, msg.position)
        if joints is not None:
            self.inputs.update(leader_joints=joints, leader_time_s=self.now_s())

    def _on_intervention(self, msg: Bool):
        self.inputs.update(intervention=bool(msg.data))

    def _on_reward(self, msg: RewardPrediction):
        self.inputs.update(success=bool(msg.success), success_time_s=seconds(msg.header.stamp))

    def _on_grasp_state(self, msg: GraspState):
        self._sim_state = sim_state_of(msg)
        if self.config.reward_source == 'sim':
            self.inputs.update(success=self._sim_state.success,
                               success_time_s=self._sim_state.stamp_s)

    def _on_operator_event(self, msg: String):
        try:
            if self.marks.take(msg.data) is not None:
                self.get_logger().info('paused by the operator: no new episode starts' if
                                       self.marks.paused else 'resumed by the operator')
        except ValueError as error:
            self.get_logger().warning(str(error))

    def _start_recording(self, group) -> EpisodeRecorder:
        directory = self.config.recording_dir or os.path.join(self.config.output_dir, 'demos')
        # Let the last messages of an episode (its statistics) reach the bag before closing it.
        recorder = EpisodeRecorder(directory, self.get_namespace(), self.config.sim,
                                   self.config.cameras, settle=lambda: self.get_clock().sleep_for(
                                       rclpy.duration.Duration(seconds=0.3)),
                                   log=self.get_logger().info)
        for topic, msgtype in recorder.topics.items():
            package, _, name = msgtype.split('/')
            module = __import__(f'{package}.msg', fromlist=[name])
            qos_profile = qos.SENSOR if 'image' in topic else qos.SENSOR_RELIABLE
            self.create_subscription(
                getattr(module, name), topic,
                lambda data, topic=topic: recorder.write(
                    topic, self.get_clock().now().nanoseconds, data),
                qos_profile, callback_group=group, raw=True)
        self.get_logger().info(f'recording episodes into {directory}')
        return recorder

    def _on_learner_stats(self, _: LearnerStats):
        self._learner_heard_s = self.now_s()

    def _on_weights(self, msg: PolicyWeights):
        if msg.format != FORMAT:
            self.get_logger().error(f'policy weights version {msg.version} refused: unsupported '
                                    f'format {msg.format!r} (expected {FORMAT!r})')
            return
        error = self.policy.load_bytes(bytes(msg.data), msg.sha256, msg.version)
        if error:
            self.get_logger().error(f'policy weights version {msg.version} refused: {error}')
        elif self.policy.version < msg.version:
            self.get_logger().info(f'policy weights version {msg.version} kept: an evaluation '
                                   'round is acting with one version; loaded when it ends',
                                   throttle_duration_sec=10.0)
        else:
            gc.freeze()  # the policy's objects live as long as the node
            self.get_logger().info(f'policy weights version {msg.version} loaded',
                                   throttle_duration_sec=10.0)

    # --- the control thread: ActorSession through this node's ActorIO ----------------------

    def _run(self):
        try:
            while not self.stopping() and self.session.run_episode():
                pass
        except Exception as error:  # the loop must not die silently: report, stop the node
            if self.stopping():
                # Ctrl-C or SIGTERM shut the context down while a step was under way: its
                # publish failed because the node is stopping, not the loop.
                return
            self.get_logger().fatal(f'control loop failed: {error!r}\n{traceback.format_exc()}')
            self.exit_code = 1
            rclpy.try_shutdown(context=self.context)
            return
        if self.config.mode == 'eval' and not self._stopping.is_set():
            rclpy.try_shutdown(context=self.context)  # evaluation done: the node exits

    def wait_step(self) -> None:
        self.rate.sleep()
        # On sim time, the frame and the reward of the tick itself: the simulation renders a
        # frame there and holds until the step commands. A frame taken at the step or after it
        # (stamps may round by a microsecond).
        tick_s = self.rate.tick_s
        taken_from_s = (self.now_s() if tick_s is None else tick_s) - 1e-3
        if self.config.frame_wait_s > 0:
            self.inputs.wait_for_image(taken_from_s, self.config.frame_wait_s, self.stopping)
        if self.config.reward_wait_s > 0 and self._reward_is_classifiers():
            self.inputs.wait_for_reward(taken_from_s, self.config.reward_wait_s, self.stopping)

    def _reward_is_classifiers(self) -> bool:
        """Whether the classifier's verdict is this step's reward (in simulated evaluations the
        simulation's is: session._judge)."""
        return (self.config.reward_source == 'classifier'
                and not (self.config.sim and self.session.loop.evaluating))

    def stopping(self) -> bool:
        return self._stopping.is_set() or not rclpy.ok(context=self.context)

    def snapshot(self) -> Snapshot:
        return self.inputs.snapshot(self.now_s())

    def sim_state(self):
        return self._sim_state

    def operator_event(self) -> str:
        return self.marks.newest()

    def paused(self) -> bool:
        return self.marks.paused

    def learner_listening(self) -> bool:
        return self.transition_pub.get_subscription_count() > 0

    def learner_silent_s(self) -> Optional[float]:
        heard = self._learner_heard_s
        return None if heard is None else self.now_s() - heard

    def step_status(self, status: dict) -> None:
        self.status_pub.publish(actor_status_msg(status, self.actor_id,
                                                 self.get_clock().now().to_msg()))

    def reset(self) -> bool:
        def read():
            return self.inputs.snapshot(self.now_s()).joints

        if read() is None:
            self.get_logger().info('waiting for joint_states', throttle_duration_sec=10.0)
            self.rate.sleep()
            return False
        if self.config.sim and not self._reset_scene():
            return False
        outcome = ik_reset(self.kinematics, self.reset_config, read, self.command,
                           self.rate.sleep, self.rng)
        # One call site per severity: rclpy refuses a call site whose severity changes.
        if outcome.accepted:
            self.get_logger().info(outcome.message, throttle_duration_sec=30.0)
        else:
            self.get_logger().warning(outcome.message, throttle_duration_sec=30.0)
        if not self.config.sim and self.config.ready_delay_s > 0:
            self.get_logger().info(f'place the cube: the episode starts in '
                                   f'{self.config.ready_delay_s:.0f} s')
            self.get_clock().sleep_for(rclpy.duration.Duration(seconds=self.config.ready_delay_s))
        return outcome.accepted

    def _reset_scene(self) -> bool:
        if not self.reset_client.wait_for_service(timeout_sec=5.0):
            self.get_logger().warning('waiting for the sim/reset_scene service',
                                      throttle_duration_sec=10.0)
            return False
        request = ResetScene.Request(seed=int(self.rng.integers(0, 2**31 - 1)))
        future = self.reset_client.call_async(request)
        done = threading.Event()
        future.add_done_callback(lambda _: done.set())
        if not done.wait(timeout=10.0) or not future.result() or not future.result().success:
            reason = future.result().message if future.done() and future.result() else 'no answer'
            self.get_logger().warning(f'sim/reset_scene did not succeed ({reason}); retrying',
                                      throttle_duration_sec=10.0)
            self.rate.sleep()  # a refusal (the arm stopped) comes back at once: no busy loop
            return False
        return True

    def command(self, joints: np.ndarray):
        msg = JointState()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.name = list(JOINT_NAMES)
        msg.position = [float(v) for v in joints]
        self.command_pub.publish(msg)

    def send_transition(self, t: Transition, episode_id: int):
        self.transition_pub.publish(transition_msg(t, self.actor_id, episode_id,
                                                   self.get_clock().now().to_msg()))

    def episode_started(self, episode_id: int, mode: str):
        self.start_pub.publish(UInt32(data=episode_id))

    def episode_finished(self, record: dict):
        self.stats_pub.publish(episode_stats_msg(record, self.actor_id,
                                                 self.get_clock().now().to_msg()))

    def destroy_node(self):
        self._stopping.set()
        # Wake the control thread (the executor no longer delivers its clock) and let it
        # finish: a daemon thread still inside rclpy when the interpreter exits aborts the
        # process ("terminate called without an active exception").
        self.rate.destroy()
        self._thread.join(timeout=3.0)
        if self.recorder:
            self.recorder.discard()  # an unfinished episode is not a demonstration
        super().destroy_node()


# One executor thread: the callbacks only store the newest inputs, and rclpy's multi-threaded
# executor took twice the CPU, holding the GIL that the control thread waits for
# (benchmarks/actor_loop.py: step wall time p99 70 -> 46 ms, wake-up lateness p99 21 -> 3 ms).
main = main_for(ActorNode)
