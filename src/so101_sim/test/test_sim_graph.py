"""sim + kinematics + operator as real processes over rclpy, in a namespace: topics at
their rates, the arm reaching a commanded EE pose through compute_ik, a scripted demonstration
mirrored onto the follower lifting the cube, and /clock when faster than real time."""
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Point, PoseStamped
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Bool, UInt32
from std_srvs.srv import Trigger

from hilserl_common import qos
from hilserl_common.images import from_msg
from hilserl_common.preprocessing import preprocess
from hilserl_interfaces.msg import GraspState
from hilserl_interfaces.srv import ComputeFK, ComputeIK, ResetScene
from hilserl_testing.nodes import ProbeNode, dump_stacks_and_kill

pytestmark = pytest.mark.graph

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / 'config'
INSTALL = ROOT / 'install'


def start(package, executable, name, namespace, *params_files, parameters=()):
    """The node as a process, with its config files and then `parameters` ('name:=value'). These
    go in a file of their own, last: a -p does not outrank a file's /**/<node> section, so
    a value that sim.yaml sets would silently stay."""
    command = [str(INSTALL / package / 'lib' / package / executable), '--ros-args',
               '-r', f'__node:={name}', '-r', f'__ns:={namespace}']
    for params_file in params_files:
        command += ['--params-file', str(CONFIG / params_file)]
    if parameters:
        values = dict(parameter.split(':=', 1) for parameter in parameters)
        override = Path(tempfile.mkdtemp(prefix='sim_graph_')) / f'{name}.yaml'
        override.write_text(f'/**/{name}:\n  ros__parameters:\n' + ''.join(
            f'    {key}: {value}\n' for key, value in values.items()))
        command += ['--params-file', str(override)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop(processes):
    """SIGINT every process; the nodes must exit on their own, cleanly."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    codes, outputs = [], []
    for process in processes:
        try:
            output, _ = process.communicate(timeout=15)
        except subprocess.TimeoutExpired:  # a failure: its stacks show where it hung
            dump_stacks_and_kill(process)
            output, _ = process.communicate()
            output += '\n(did not exit within 15 s of SIGINT: killed)'
        codes.append(process.returncode)
        outputs.append(output)
    return codes, outputs


class Probe(ProbeNode):
    """Counts and keeps the latest message of watched topics, calls services."""

    def __init__(self, namespace):
        super().__init__('probe', namespace)
        self.ns = namespace
        self.counts = {}
        self.latest = {}
        self.lock = threading.Lock()

    def watch(self, topic, msg_type, profile, callback=None):
        self.counts[topic] = 0

        def on_message(msg):
            with self.lock:
                self.counts[topic] += 1
                self.latest[topic] = msg
            if callback:
                callback(msg)
        self.node.create_subscription(msg_type, topic, on_message, profile)

    def wait_for(self, predicate, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate():
                    return True
            time.sleep(0.05)
        return False

    def rates(self, seconds):
        with self.lock:
            before = dict(self.counts)
        time.sleep(seconds)
        with self.lock:
            return {t: (self.counts[t] - before[t]) / seconds for t in self.counts}


def position_of(pose: PoseStamped):
    p = pose.pose.position
    return np.array([p.x, p.y, p.z])


def test_sim_kinematics_and_operator_graph():
    namespace = f'/g{uuid.uuid4().hex[:8]}'
    processes = [
        start('so101_sim', 'sim', 'sim', namespace, 'task.yaml', 'sim.yaml'),
        start('so101_kinematics', 'kinematics', 'kinematics', namespace, 'task.yaml',
              'kinematics.yaml'),
        start('so101_sim', 'operator', 'operator', namespace, 'task.yaml', 'sim.yaml',
              parameters=['mode:=demo']),
    ]
    probe = Probe(namespace)
    commands = probe.node.create_publisher(JointState, 'joint_commands', qos.COMMANDS)
    episode_start = probe.node.create_publisher(UInt32, 'episode_start', qos.COMMANDS)
    mirroring = threading.Event()

    def mirror(msg):  # the actor's record mode: the follower follows the leader
        with probe.lock:
            intervening = probe.latest.get('intervention')
        if mirroring.is_set() and intervening is not None and intervening.data:
            commands.publish(msg)

    probe.watch('joint_states', JointState, qos.SENSOR_RELIABLE)
    probe.watch('wrist_camera/image_proc', Image, qos.SENSOR)
    probe.watch('wrist_camera/image_raw', Image, qos.SENSOR)
    probe.watch('wrist_camera/camera_info', CameraInfo, qos.SENSOR)
    probe.watch('front_camera/image_proc', Image, qos.SENSOR)
    probe.watch('front_camera/image_raw', Image, qos.SENSOR)
    probe.watch('ee_pose', PoseStamped, qos.SENSOR_RELIABLE)
    probe.watch('sim/grasp_state', GraspState, qos.SENSOR_RELIABLE)
    probe.watch('intervention', Bool, qos.COMMANDS)
    probe.watch('leader/joint_states', JointState, qos.SENSOR_RELIABLE, mirror)
    statuses = {}
    probe.watch('/diagnostics', DiagnosticArray, qos.COMMANDS,
                lambda array: statuses.update({s.name: s for s in array.status}))
    probe.spin_in_background()
    try:
        assert probe.wait_for(lambda: all(probe.counts.values()), timeout=60), probe.counts
        rates = probe.rates(3.0)
        assert rates['joint_states'] >= 22, rates            # 30 Hz configured
        assert rates['ee_pose'] >= 22, rates                 # one per joint state
        assert rates['wrist_camera/image_proc'] >= 20, rates  # 30 Hz configured
        assert rates['front_camera/image_proc'] >= 20, rates  # 30 Hz configured
        assert rates['sim/grasp_state'] >= 14, rates         # 20 Hz configured
        assert rates['leader/joint_states'] >= 22, rates     # 30 Hz configured
        assert rates['intervention'] >= 22, rates
        with probe.lock:
            image = from_msg(probe.latest['wrist_camera/image_proc'])
            front = from_msg(probe.latest['front_camera/image_proc'])
            front_raw = from_msg(probe.latest['front_camera/image_raw'])
            pose = probe.latest['ee_pose']
        assert image.shape == front.shape == (128, 128, 3)
        assert np.array_equal(front, preprocess(front_raw))  # the shared preprocessing
        assert not np.array_equal(front, image)
        assert pose.header.frame_id == 'base'
        simulation = statuses[f'{namespace}/sim: simulation']
        achieved = {v.key: v.value for v in simulation.values}['achieved_real_time_factor']
        assert 0.7 < float(achieved) < 1.3, achieved
        assert f'{namespace}/operator: simulated operator' in statuses

        reach_commanded_pose(probe, commands)
        check_fk_and_bad_requests(probe)

        # Demonstrations, the probe playing the actor: reset the scene and announce the episode;
        # the operator waits for the arm to settle, then drives the leader; mirrored onto the
        # follower it lifts the cube. The second reset takes the held cube away and starts a
        # new episode: the operator must demonstrate again.
        mirroring.set()
        for episode, seed in enumerate((11, 12)):
            response = probe.call(ResetScene, 'sim/reset_scene', ResetScene.Request(seed=seed))
            assert response.success
            assert abs(response.cube_pose.position.z - 0.0125) < 0.003
            assert probe.wait_for(lambda: not probe.latest['sim/grasp_state'].success, 5)
            episode_start.publish(UInt32(data=episode))
            lifted = probe.wait_for(lambda: probe.latest['sim/grasp_state'].success, timeout=30)
            with probe.lock:
                state = probe.latest['sim/grasp_state']
            assert lifted, f'seed {seed}: cube not lifted: height {state.cube_height:.3f}, ' \
                           f'contact {state.gripper_contact}'

        assert probe.call(Trigger, 'stop', Trigger.Request()).success
    finally:
        probe.close()
        codes, outputs = stop(processes)
    assert codes == [0, 0, 0], '\n'.join(outputs)
    assert all('Traceback' not in output for output in outputs), '\n'.join(outputs)


def reach_commanded_pose(probe, commands):
    """Closed loop over the services, as the actor does: compute_ik from the node's latest
    joint_states, command, re-read; integral action on the aim cancels the servo sag."""
    target = np.array([0.22, 0.06, 0.10])
    aim = target.copy()
    for _ in range(40):
        request = ComputeIK.Request(target=Point(x=aim[0], y=aim[1], z=aim[2]))
        result = probe.call(ComputeIK, 'compute_ik', request)
        assert result.status in (ComputeIK.Response.STATUS_OK,
                                 ComputeIK.Response.STATUS_NOT_CONVERGED), result.message
        commands.publish(JointState(position=list(result.joint_positions)))
        time.sleep(0.15)
        with probe.lock:
            reached = position_of(probe.latest['ee_pose'])
        error = target - reached
        if np.linalg.norm(error) < 0.003:
            break
        aim = target + np.clip(aim - target + 0.5 * error, -0.03, 0.03)
    assert np.linalg.norm(target - reached) < 0.005, reached


def check_fk_and_bad_requests(probe):
    with probe.lock:
        joints = list(probe.latest['joint_states'].position)
        pose = position_of(probe.latest['ee_pose'])
    fk = probe.call(ComputeFK, 'compute_fk', ComputeFK.Request(joint_positions=joints))
    assert fk.ok and len(fk.rpy) == 3
    p = fk.pose.position
    assert np.linalg.norm(np.array([p.x, p.y, p.z]) - pose) < 0.01
    bad = probe.call(ComputeFK, 'compute_fk', ComputeFK.Request(joint_positions=[0.0] * 3))
    assert not bad.ok and bad.message
    request = ComputeIK.Request(target=Point(x=float('nan'), y=0.0, z=0.1))
    invalid = probe.call(ComputeIK, 'compute_ik', request)
    assert invalid.status == ComputeIK.Response.STATUS_INVALID_INPUT and invalid.message
    far = ComputeIK.Request(target=Point(x=0.6, y=0.0, z=0.1), measured_joints=joints)
    clipped = probe.call(ComputeIK, 'compute_ik', far)
    assert clipped.status in (ComputeIK.Response.STATUS_CLIPPED,
                              ComputeIK.Response.STATUS_NOT_CONVERGED)
    assert 'clipped' in clipped.message


def test_faster_than_real_time_publishes_clock_and_stamps_in_sim_time():
    namespace = f'/f{uuid.uuid4().hex[:8]}'
    processes = [start('so101_sim', 'sim', 'sim', namespace, 'task.yaml', 'sim.yaml',
                       # Cameras slow and off: rendering is the sim's work, and three times
                       # real time must hold on a loaded machine too.
                       parameters=['real_time_factor:=3.0', 'camera_rate_hz:=1.0',
                                   'front_camera_rate_hz:=0.0', 'clock_rate_hz:=50.0'])]
    probe = Probe(namespace)
    probe.watch('/clock', Clock, qos.CLOCK)
    probe.watch('joint_states', JointState, qos.SENSOR_RELIABLE)
    probe.spin_in_background()
    try:
        assert probe.wait_for(lambda: all(probe.counts.values()), timeout=60), probe.counts
        with probe.lock:
            clock_before = probe.latest['/clock'].clock
            ticks_before = probe.counts['/clock']
        wall_before = time.monotonic()
        time.sleep(2.0)
        with probe.lock:
            clock_after = probe.latest['/clock'].clock
            ticks = probe.counts['/clock'] - ticks_before
            stamp = probe.latest['joint_states'].header.stamp
        wall = time.monotonic() - wall_before
        sim = (clock_after.sec - clock_before.sec
               + (clock_after.nanosec - clock_before.nanosec) * 1e-9)
        assert 2.0 * wall < sim < 3.5 * wall, (sim, wall)
        # clock_rate_hz messages per second of sim time, however fast it runs
        assert 0.85 * 50 * sim < ticks < 1.15 * 50 * sim, (ticks, sim)
        stamp_s = stamp.sec + stamp.nanosec * 1e-9
        assert abs(stamp_s - (clock_after.sec + clock_after.nanosec * 1e-9)) < 0.5
    finally:
        probe.close()
        codes, outputs = stop(processes)
    assert codes == [0], outputs


def rise_time_s(times_s, positions, start, step):
    """Seconds from 10% to 90% of a joint's step, crossings interpolated between samples."""
    progress, times_s = (np.asarray(positions) - start) / step, np.asarray(times_s)

    def crossing(level):  # the first, should the joint overshoot and come back
        after = int(np.argmax(progress >= level))
        return np.interp(level, progress[after - 1:after + 1], times_s[after - 1:after + 1])
    return crossing(0.9) - crossing(0.1)


def test_the_arm_moves_as_fast_on_the_sim_clock_as_in_its_physics():
    """The node's clock is the physics' own: it once counted 5 ms per physics chunk that stepped
    4 ms (whole 2 ms timesteps), so every graph ran its physics at 0.8 x the clock its nodes
    and the policy saw. A shoulder-pan step, timed from joint_states stamps, against the same
    step in a plain cell."""
    from so101_sim.cell import SimulatedCell
    from so101_sim.config import CellConfig

    namespace = f'/t{uuid.uuid4().hex[:8]}'
    processes = [start('so101_sim', 'sim', 'sim', namespace, 'task.yaml', 'sim.yaml',
                       parameters=['real_time_factor:=2.0', 'camera_rate_hz:=1.0',
                                   'front_camera_rate_hz:=0.0', 'joint_state_rate_hz:=500.0'])]
    probe = Probe(namespace)
    samples = []  # (stamp on the sim clock, shoulder pan)
    probe.watch('joint_states', JointState, qos.SENSOR_RELIABLE, callback=lambda msg:
                samples.append((msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9,
                                msg.position[0])))
    commands = probe.node.create_publisher(JointState, 'joint_commands', qos.COMMANDS)
    probe.spin_in_background()
    step = 0.4
    try:
        assert probe.wait_for(lambda: probe.counts['joint_states'] > 50, timeout=60), probe.counts
        with probe.lock:
            at_rest = np.array(probe.latest['joint_states'].position)
        goal = at_rest.copy()
        goal[0] += step
        commands.publish(JointState(name=list(probe.latest['joint_states'].name),
                                    position=goal.tolist()))
        assert probe.wait_for(lambda: abs(samples[-1][1] - goal[0]) < 0.05, timeout=30), \
            samples[-1]
    finally:
        probe.close()
        codes, outputs = stop(processes)
    assert codes == [0], outputs
    times_s, pan = np.array(samples).T
    in_graph = rise_time_s(times_s, pan, at_rest[0], step)

    with SimulatedCell(CellConfig(), render=False) as cell:
        cell.set_joint_targets(at_rest)
        cell.step(1.0)  # at rest where the node's arm was
        start_pan = cell.joint_positions()[0]
        cell.set_joint_targets(goal)
        physics = []
        for _ in range(200):
            cell.step()
            physics.append((cell.time_s, cell.joint_positions()[0]))
    in_physics = rise_time_s(*np.array(physics).T, start_pan, step)
    # about 0.1 s; 1.25 times that while the clock ran ahead of the physics
    assert in_graph == pytest.approx(in_physics, abs=0.005), (in_graph, in_physics)


def test_a_command_takes_effect_at_the_tick_it_answers():
    """On sim time the simulation holds at each control tick of an episode until the tick's
    command arrives: a commander that answers every tick 60 ms of wall time late (30 ms of sim
    time at 0.5 x real time) still moves the arm from the tick's instant. Without the hold the
    motion began 30 ms of sim time after it."""
    import queue
    namespace = f'/h{uuid.uuid4().hex[:8]}'
    processes = [start('so101_sim', 'sim', 'sim', namespace, 'task.yaml', 'sim.yaml',
                       parameters=['real_time_factor:=0.5', 'camera_rate_hz:=1.0',
                                   'front_camera_rate_hz:=0.0', 'joint_state_rate_hz:=500.0'])]
    probe = Probe(namespace)
    samples = []  # (stamp in ns of the sim clock, shoulder pan)
    probe.watch('joint_states', JointState, qos.SENSOR_RELIABLE, callback=lambda msg:
                samples.append((msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec,
                                msg.position[0])))
    ticks = queue.Queue()
    tick_ns = 10**8  # task.yaml's control_rate_hz, 10 Hz: ticks on whole tenths of a second
    probe.watch('/clock', Clock, qos.CLOCK, callback=lambda msg: (
        msg.clock.nanosec % tick_ns == 0 and ticks.put(msg.clock.sec * 10**9 + msg.clock.nanosec)))
    commands = probe.node.create_publisher(JointState, 'joint_commands', qos.COMMANDS)
    episode_start = probe.node.create_publisher(UInt32, 'episode_start', qos.COMMANDS)
    probe.spin_in_background()
    try:
        assert probe.wait_for(lambda: probe.counts['joint_states'] > 50, timeout=60), probe.counts
        # as the actor does before an episode's first step (matched first: a message to no
        # subscriber is lost)
        assert probe.wait_for(lambda: episode_start.get_subscription_count(), timeout=30)
        episode_start.publish(UInt32(data=0))
        with probe.lock:
            names = list(probe.latest['joint_states'].name)
            at_rest = np.array(probe.latest['joint_states'].position)
        goal = at_rest.copy()
        goal[0] += 0.3
        moved_at = None  # the tick whose command moves the arm
        for answered in range(15):
            tick = ticks.get(timeout=30)
            while not ticks.empty():  # the newest tick: answer that one
                tick = ticks.get_nowait()
            time.sleep(0.06)
            if answered == 12:
                moved_at = tick
            commands.publish(JointState(name=names, position=(
                goal if moved_at else at_rest).tolist()))
        assert probe.wait_for(lambda: samples[-1][0] > moved_at + 3 * tick_ns, timeout=30)
    finally:
        probe.close()
        codes, outputs = stop(processes)
    assert codes == [0], outputs
    moving = [stamp for stamp, pan in samples if stamp > moved_at - tick_ns
              and abs(pan - at_rest[0]) > 2e-3]
    delay_ms = (moving[0] - moved_at) / 1e6
    # 8 ms for the first 2 mrad from the tick; 36 without the hold (hold_for_commands:=false)
    assert 0 < delay_ms <= 15, delay_ms


def clock_seconds(probe):
    with probe.lock:
        clock = probe.latest['/clock'].clock
    return clock.sec + clock.nanosec * 1e-9


def sim_seconds_in(probe, wall_s):
    before = clock_seconds(probe)
    time.sleep(wall_s)
    return clock_seconds(probe) - before


def test_sim_time_stands_still_while_the_learner_owes_updates():
    """The real sim node against learner_progress messages a probe sends in its place."""
    from hilserl_interfaces.msg import LearnerProgress
    namespace = f'/p{uuid.uuid4().hex[:8]}'
    processes = [start('so101_sim', 'sim', 'sim', namespace, 'task.yaml', 'sim.yaml',
                       parameters=['wait_for_learner:=true', 'learner_slack_updates:=20',
                                   'learner_timeout_s:=1.0', 'camera_rate_hz:=5.0',
                                   'front_camera_rate_hz:=0.0'])]
    probe = Probe(namespace)
    probe.watch('/clock', Clock, qos.CLOCK)
    progress = probe.node.create_publisher(LearnerProgress, '/learner_progress', qos.COMMANDS)
    owed = {'updates': 0}
    probe.node.create_timer(0.05, lambda: owed['updates'] is None or progress.publish(
        LearnerProgress(updates_owed=owed['updates'])))
    probe.spin_in_background()
    try:
        assert probe.wait_for(lambda: probe.counts['/clock'] > 0, timeout=60), probe.counts
        assert sim_seconds_in(probe, 1.0) > 0.6          # on pace: real time
        owed['updates'] = 500
        time.sleep(0.3)
        assert sim_seconds_in(probe, 1.0) < 0.05         # behind: the simulation waits
        owed['updates'] = 10                             # within the slack
        time.sleep(0.3)
        assert sim_seconds_in(probe, 1.0) > 0.6
        owed['updates'] = 500
        time.sleep(0.3)
        owed['updates'] = None                           # the learner goes silent
        time.sleep(1.2)
        assert sim_seconds_in(probe, 1.0) > 0.6          # ... and the simulation runs free
    finally:
        probe.close()
        codes, outputs = stop(processes)
    assert codes == [0], outputs


def test_evaluation_episodes_run_at_their_own_speed(tmp_path):
    """While the actor's status says it evaluates, the simulation paces at
    evaluation_real_time_factor when one is set; back at real_time_factor after."""
    from hilserl_interfaces.msg import ActorStatus
    namespace = f'/e{uuid.uuid4().hex[:8]}'
    # A file after sim.yaml, as a user's config_file (a -p does not outrank its /**/sim section)
    override = tmp_path / 'evaluation.yaml'
    override.write_text('/**/sim:\n  ros__parameters:\n    evaluation_real_time_factor: 1.0\n')
    processes = [start('so101_sim', 'sim', 'sim', namespace, 'task.yaml', 'sim.yaml',
                       str(override),
                       # no rendering: the sim's speed alone, on a loaded machine too
                       parameters=['real_time_factor:=0.4', 'camera_rate_hz:=1.0',
                                   'front_camera_rate_hz:=0.0'])]
    probe = Probe(namespace)
    probe.watch('/clock', Clock, qos.CLOCK)
    pace = {'now': None}  # the pace the sim's diagnostics say is in force

    def on_diagnostics(array):
        for status in array.status:
            if status.name.startswith(namespace):
                pace['now'] = dict((v.key, v.value) for v in status.values)[
                    'configured_real_time_factor']
    probe.watch('/diagnostics', DiagnosticArray, qos.COMMANDS, on_diagnostics)
    status = probe.node.create_publisher(ActorStatus, 'actor_status', qos.COMMANDS)
    mode = {'now': 'train'}
    probe.node.create_timer(0.1, lambda: status.publish(ActorStatus(mode=mode['now'])))
    probe.spin_in_background()

    def paced_at(factor):
        assert probe.wait_for(lambda: pace['now'] == factor, timeout=30), \
            f'the sim paces at {pace["now"]}, not {factor}'
    try:
        assert probe.wait_for(lambda: probe.counts['/clock'] > 0, timeout=60), probe.counts
        paced_at('0.4')
        assert 0.2 < sim_seconds_in(probe, 1.0) < 0.6          # training: 0.4 x real time
        mode['now'] = 'eval'
        paced_at('1')
        assert 0.75 < sim_seconds_in(probe, 1.0) < 1.3         # evaluating: real time
        mode['now'] = 'train'
        paced_at('0.4')
        assert 0.2 < sim_seconds_in(probe, 1.0) < 0.6
    finally:
        probe.close()
        codes, outputs = stop(processes)
    assert codes == [0], outputs
