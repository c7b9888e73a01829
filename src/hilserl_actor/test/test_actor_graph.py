"""The actor on the simulated graph: sim, kinematics, simulated operator and actor as real
processes over rclpy (started through the runner), with the reward from the simulation's
privileged success. One graph serves every test; a probe node watches /transitions and ee_pose,
broadcasts policy weights the way the learner does, and relays the wrist camera to the actor so
that a test can stall it.

The operator is configured to nudge in every episode soon after its start, so interventions
happen in every episode while most steps remain the policy's.
"""
import array
import dataclasses
import json
import re
import threading
import time
import uuid
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from geometry_msgs.msg import PoseStamped
from sensor_msgs.msg import Image

from hilserl_bringup.runner import Graph
from hilserl_common import qos
from hilserl_interfaces.msg import PolicyWeights, RewardPrediction, Transition
from hilserl_learner.config import config_from
from hilserl_learner.policy.weights import FORMAT, serialize_policy
from hilserl_learner.sac.agent import SACAgent
from hilserl_testing.nodes import ProbeNode, log_tail, unclean_stops

pytestmark = pytest.mark.graph

ROOT = Path(__file__).resolve().parents[3]
TASK = yaml.safe_load((ROOT / 'config' / 'task.yaml').read_text())['/**']['ros__parameters']
BOUNDS_MIN, BOUNDS_MAX = np.array(TASK['ee_bounds_min']), np.array(TASK['ee_bounds_max'])
# Servo overshoot at the boundary. so101_kinematics' EEController adds its sag integral (up to
# 2 cm) after clipping the reference to the bounds, so a fast descent onto z min was seen to
# end 4.7 mm below it; reported, to be tightened once the IK target itself is clipped.
BOUNDS_TOLERANCE_M = 0.01
CONTROL_TIME_S = 2.5
STEPS_PER_EPISODE = int(CONTROL_TIME_S * TASK['control_rate_hz'])
RELAYED_IMAGE = 'test_camera/image_proc'
OVERRIDES = {
    '/**': {'ros__parameters': {'control_time_s': CONTROL_TIME_S}},
    '/**/actor': {'ros__parameters': {'reward_source': 'sim'}},
    # Nudge in every episode, soon after the start (the operator counts its steps from the
    # actor's episode_start, after the reset).
    '/**/operator': {'ros__parameters': {
        'episode_correction_probability': 1.0, 'correction_probability': 1.0,
        'explore_steps': 4, 'progress_window_steps': 2, 'progress_m': 0.05,
        'drift_distance_m': 0.01, 'correction_steps': 5, 'max_corrections_per_episode': 3,
        'max_intervention_fraction': 1.0}},
}
SMALL_POLICY = {'latent_dim': 16, 'hidden_dims': [32, 32], 'gripper_hidden_dims': [16],
                'device': 'cpu'}


@dataclasses.dataclass
class Step:
    """What the tests need of one received transition."""
    arrival_s: float
    episode_id: int
    step_id: int
    action: np.ndarray
    state: np.ndarray
    next_state: np.ndarray
    terminated: bool
    truncated: bool
    is_intervention: bool
    policy_version: int
    stamp_s: float      # the actor's clock when it sent the transition (the next step)


class Probe(ProbeNode):
    """Records the actor's transitions and EE poses, relays its camera, sends weights."""

    def __init__(self, namespace: str):
        super().__init__('actor_probe', namespace)
        self.actor_id = namespace.strip('/')
        self.graph = None   # set when the graph is started: fail fast
        self.lock = threading.Lock()
        self.steps = []
        self.ee_positions = []          # (arrival time, position)
        self.relaying = threading.Event()
        self.relaying.set()
        self.relay_pub = self.node.create_publisher(Image, RELAYED_IMAGE, qos.SENSOR)
        self.weights_pub = self.node.create_publisher(PolicyWeights, '/policy_weights',
                                                      qos.LATCHED)
        self.node.create_subscription(Transition, '/transitions', self._on_transition,
                                      qos.TRANSITIONS)
        self.node.create_subscription(PoseStamped, 'ee_pose', self._on_pose, qos.SENSOR_RELIABLE)
        self.node.create_subscription(Image, 'wrist_camera/image_proc', self._relay, qos.SENSOR,
                                      raw=True)
        self.spin_in_background()

    def _relay(self, data: bytes):
        if self.relaying.is_set():
            self.relay_pub.publish(data)   # serialised as received: no decode in the probe

    def _on_transition(self, msg: Transition):
        if msg.actor_id != self.actor_id:
            return
        step = Step(time.monotonic(), msg.episode_id, msg.step_id, np.array(msg.action),
                    np.array(msg.state), np.array(msg.next_state), msg.terminated, msg.truncated,
                    msg.is_intervention, msg.policy_version,
                    msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9)
        with self.lock:
            self.steps.append(step)

    def _on_pose(self, msg: PoseStamped):
        p = msg.pose.position
        with self.lock:
            self.ee_positions.append((time.monotonic(), np.array([p.x, p.y, p.z])))

    def received(self, since_s: float = 0.0):
        with self.lock:
            return [s for s in self.steps if s.arrival_s >= since_s]

    def poses(self, since_s: float):
        with self.lock:
            return np.array([p for t, p in self.ee_positions if t >= since_s]).reshape(-1, 3)

    def wait_for(self, predicate, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            dead = self.graph.failed_required() if self.graph else None
            if dead is not None:
                raise AssertionError(f'{dead.spec.name} exited with code '
                                     f'{dead.process.returncode}{log_tail(dead.log_path)}')
            time.sleep(0.05)
        return False

    def broadcast(self, data: bytes, digest: str, version: int):
        msg = PolicyWeights(version=version, format=FORMAT, sha256=digest,
                            optimization_step=version)
        msg.data = array.array('B', data)
        msg.header.stamp = self.node.get_clock().now().to_msg()
        self.weights_pub.publish(msg)


@pytest.fixture(scope='module')
def graph(tmp_path_factory):
    directory = tmp_path_factory.mktemp('actor_graph')
    overrides = directory / 'overrides.yaml'
    overrides.write_text(yaml.safe_dump(OVERRIDES))
    robot = f'a{uuid.uuid4().hex[:8]}'
    graph = Graph('train', {'output_dir': str(directory), 'config_file': str(overrides),
                            'robot': robot},
                  only=['sim', 'kinematics', 'operator', 'actor'], quiet=True)
    # The actor sees the camera through the probe's relay, so a test can stall it.
    graph.specs = [dataclasses.replace(s, remappings=s.remappings + (
        ('wrist_camera/image_proc', RELAYED_IMAGE),)) if s.name == 'actor' else s
        for s in graph.specs]
    probe = Probe('/' + robot)
    probe.graph = graph
    graph.start()
    try:
        yield graph, probe, directory
    finally:
        probe.close()
        graph.stop()
        failures = unclean_stops(graph.nodes)
        assert not failures, failures


@pytest.fixture(scope='module')
def agent():
    torch.manual_seed(0)
    return SACAgent(config_from(SMALL_POLICY))


def weights(agent, version, actor_values=None, mean=None):
    """The agent's policy as the learner broadcasts it, with the actor network overwritten:
    every actor tensor set to `actor_values`, or the last layer replaced by a constant
    pre-tanh mean (the action becomes sign(mean) once tanh saturates)."""
    state = {name: tensor.clone() for name, tensor in agent.policy_state_dict().items()}
    actor_layers = sorted({n.rsplit('.', 1)[0] for n in state if n.startswith('actor.net.')},
                          key=lambda n: int(n.rsplit('.', 1)[1]))
    if actor_values is not None:
        for name in state:
            if name.startswith('actor.'):
                state[name].fill_(actor_values)
    if mean is not None:
        last = actor_layers[-1]
        state[f'{last}.weight'].zero_()
        state[f'{last}.bias'][:3] = torch.tensor(mean, dtype=torch.float32)
    return serialize_policy(state, agent.config, agent.encoder.backbone.identity, version, 0)


def episodes(steps):
    by_episode = {}
    for step in steps:
        by_episode.setdefault(step.episode_id, []).append(step)
    return by_episode


def complete_episodes(steps):
    """Episodes received from their first to their last step."""
    return {e: s for e, s in episodes(steps).items()
            if s[0].step_id == 0 and (s[-1].truncated or s[-1].terminated)}


def test_a_full_episode_streams_transitions_at_the_loop_rate(graph):
    _, probe, _ = graph
    assert probe.wait_for(lambda: complete_episodes(probe.received()), timeout=90), \
        f'no complete episode; received {len(probe.received())} transitions'
    episode_id, steps = sorted(complete_episodes(probe.received()).items())[0]
    assert [s.step_id for s in steps] == list(range(len(steps))), 'step ids not consecutive'
    assert not any(s.truncated or s.terminated for s in steps[:-1])
    if steps[-1].truncated:
        assert len(steps) == STEPS_PER_EPISODE
    # The loop's rate on its own clock (the stamps: when each step was sent), so a slow
    # delivery on a loaded machine does not count; single late steps may pause it.
    periods = np.diff([s.stamp_s for s in steps])
    assert 0.08 < np.median(periods) < 0.12, np.round(periods, 3)
    for s in steps:
        assert s.state.shape == (18,) and s.next_state.shape == (18,) and s.action.shape == (3,)
        assert np.all(np.abs(s.action) <= 1.0)
    # The next state of one step is the state of the next.
    for before, after in zip(steps, steps[1:]):
        assert np.allclose(before.next_state, after.state)


def test_each_step_sees_the_frame_and_the_joints_of_its_own_instant(graph):
    """On sim time the simulation publishes its sensors on whole periods of its clock, before
    the clock itself, and the actor ticks on whole periods of it: the median step acts on the
    wrist frame and the joint states of its own instant. A free phase between the two left
    them 0-35 ms old for whole stretches of a run."""
    _, probe, directory = graph
    records = directory / 'episodes.jsonl'
    assert probe.wait_for(lambda: records.exists() and records.read_text().strip(), 90), \
        'no training episode was recorded'
    record = json.loads(records.read_text().splitlines()[0])
    assert (record['frame_age_p50_ms'], record['joints_age_p50_ms']) == (0.0, 0.0), record


def test_new_weights_are_used_from_the_next_step(graph, agent):
    """Versions 1 and 2 push the EE with full actions in opposite directions; a transition
    carries the version that chose its action, and version 2 takes over mid-episode at the
    first step after it arrives."""
    _, probe, _ = graph
    probe.broadcast(*weights(agent, 1, mean=[1e6, 1e6, -1e6]), version=1)
    assert probe.wait_for(lambda: any(s.policy_version == 1 for s in probe.received()), 30), \
        'version 1 never acted'
    # Broadcast version 2 mid-episode, a few steps into it.
    assert probe.wait_for(lambda: (lambda r: r and 3 <= r[-1].step_id <= STEPS_PER_EPISODE - 8)(
        probe.received()), 15), 'no episode in progress'
    published, published_clock_s = time.monotonic(), time.time()
    episode = probe.received()[-1].episode_id
    probe.broadcast(*weights(agent, 2, mean=[-1e6, -1e6, 1e6]), version=2)
    assert probe.wait_for(lambda: any(s.policy_version == 2 for s in probe.received()), 10)

    def this_episode():
        return [s for s in probe.received(published) if s.episode_id == episode]
    # A few steps of version 2, or the episode's end, whichever comes first.
    probe.wait_for(lambda: sum(s.policy_version == 2 for s in this_episode()) >= 3
                   or any(s.truncated or s.terminated for s in this_episode()), 10)
    steps = this_episode()
    old = [s for s in steps if s.policy_version == 1]
    new = [s for s in steps if s.policy_version == 2]
    assert new, 'the episode ended before version 2 acted'
    # Received after the broadcast but chosen by version 1: at most the step acted before
    # the weights arrived and the one before it, still on its way. A transition is sent at
    # the next step: the first of version 2 comes within two periods (arrival and loading,
    # then acting), plus slack for a loaded CPU.
    assert len(old) <= 2, [(s.step_id, s.policy_version) for s in steps]
    # Within the episode, version 1 acted first (it was acting when 2 was broadcast, at step
    # 3 or later) and never again once version 2 had acted.
    whole = [s for s in probe.received() if s.episode_id == episode]
    first = [s.step_id for s in whole if s.policy_version == 1]
    assert first, 'version 1 did not act in this episode'
    assert max(first) < min(s.step_id for s in new)
    assert new[0].stamp_s - published_clock_s < 0.5, new[0].stamp_s - published_clock_s
    assert all(s.policy_version in (1, 2) for s in steps)
    for s in steps:
        if not s.is_intervention:
            expected = [1, 1, -1] if s.policy_version == 1 else [-1, -1, 1]
            assert np.array_equal(s.action, expected), (s.step_id, s.policy_version, s.action)


def assert_inside_bounds(positions):
    assert len(positions) > 20
    low = positions.min(axis=0) - BOUNDS_MIN
    high = BOUNDS_MAX - positions.max(axis=0)
    assert np.all(low > -BOUNDS_TOLERANCE_M) and np.all(high > -BOUNDS_TOLERANCE_M), \
        f'EE range {positions.min(axis=0).round(3)} .. {positions.max(axis=0).round(3)}'


def test_huge_or_nan_policy_outputs_never_take_the_ee_out_of_the_bounds(graph, agent):
    _, probe, _ = graph
    for version, kwargs in ((3, {'mean': [1e30, -1e30, -1e30]}),
                            (4, {'actor_values': 1e30}),
                            (5, {'actor_values': float('nan')})):
        probe.broadcast(*weights(agent, version, **kwargs), version=version)
        assert probe.wait_for(
            lambda v=version: any(s.policy_version == v for s in probe.received()), 10)
        since = time.monotonic()
        assert probe.wait_for(lambda v=version, t=since: sum(
            s.policy_version == v and not s.is_intervention for s in probe.received(t)) >= 15, 20)
        assert_inside_bounds(probe.poses(since))
        acted = [s for s in probe.received(since)
                 if s.policy_version == version and not s.is_intervention]
        if kwargs.get('mean'):
            # The arm is driven into the corner of the box, so the bounds were tried.
            assert all(np.array_equal(s.action, [1, -1, -1]) for s in acted)
        if version == 5:  # NaN actions are executed (and stored) as no motion
            assert all(np.array_equal(s.action, [0, 0, 0]) for s in acted)
    corner = probe.poses(0.0)
    assert corner[:, 1].min() < BOUNDS_MIN[1] + 0.02 or corner[:, 2].min() < BOUNDS_MIN[2] + 0.01


def test_intervention_steps_store_the_operators_motion(graph):
    """While the operator nudges, the follower moves where the leader is; the stored action
    (the follower's realised EE motion over the step, normalised) points the way it moved."""
    _, probe, _ = graph

    def moving_interventions():
        return [s for s in probe.received() if s.is_intervention
                and np.linalg.norm(s.next_state[12:15] - s.state[12:15]) > 0.004]

    assert probe.wait_for(lambda: len(moving_interventions()) >= 8, 60), \
        f'{sum(s.is_intervention for s in probe.received())} intervention steps'
    cosines = []
    for s in moving_interventions():
        moved = s.next_state[12:15] - s.state[12:15]
        cosines.append(np.dot(s.action, moved) / (np.linalg.norm(s.action)
                                                  * np.linalg.norm(moved) + 1e-9))
    assert np.median(cosines) > 0.7, np.round(cosines, 2)
    assert np.mean(np.array(cosines) > 0.0) > 0.8, np.round(cosines, 2)
    by_episode = episodes(probe.received())
    flagged = [e for e, steps in by_episode.items() if any(s.is_intervention for s in steps)]
    assert flagged
    for e in flagged:   # interventions are nudges, not takeovers
        assert any(not s.is_intervention for s in by_episode[e])


def test_a_stalled_camera_pauses_the_episode(graph):
    _, probe, directory = graph
    assert probe.wait_for(lambda: (lambda r: r and r[-1].step_id <= STEPS_PER_EPISODE - 5)(
        probe.received(time.monotonic() - 0.15)), 20), 'no episode in progress'
    probe.relaying.clear()
    stalled, stalled_clock_s = time.monotonic(), time.time()
    before = probe.received()[-1]
    time.sleep(2.0)
    # The image ages past the 200 ms limit within a few steps; after that nothing is sent.
    late = probe.received(stalled + 0.5)
    probe.relaying.set()
    resumed = time.monotonic()
    assert not late, [(s.episode_id, s.step_id) for s in late]
    assert probe.wait_for(lambda: probe.received(resumed), 5), 'no transitions after resuming'
    # The actor says why, step after step, while the image ages.
    log = (directory / 'logs' / 'actor.log').read_text()
    ages_ms = [int(age) for stamp, age in re.findall(
        r'\[(\d+\.\d+)\] \[[^]]*\]: episode paused: wrist image is (\d+) ms old', log)
        if float(stamp) > stalled_clock_s]
    assert ages_ms and max(ages_ms) > 1000, ages_ms
    # The same episode goes on where it stopped: no step is lost.
    # (a paused step is no step: the episode, 5 or more steps from its end, must go on)
    during = [s for s in probe.received(stalled) if s.episode_id == before.episode_id]
    assert during, f'episode {before.episode_id} did not go on after the stall'
    ids = [before.step_id] + [s.step_id for s in during]
    assert ids == list(range(ids[0], ids[0] + len(ids))), ids


def test_in_simulation_evaluation_success_is_the_simulations_not_the_classifiers(
        tmp_path, agent):
    """A classifier that always says success must not make an evaluation a success: in the
    simulation the grasp state decides evaluation episodes, and every record keeps both."""
    policy_file = tmp_path / 'policy.safetensors'
    policy_file.write_bytes(weights(agent, 1, mean=[0.0, 0.0, 0.0])[0])
    overrides = tmp_path / 'overrides.yaml'
    overrides.write_text(yaml.safe_dump({
        '/**': {'ros__parameters': {'control_time_s': 1.0}},
        '/**/actor': {'ros__parameters': {'eval_episodes': 1,
                                           'policy_file': str(policy_file)}}}))
    robot = f'e{uuid.uuid4().hex[:8]}'
    graph = Graph('eval', {'output_dir': str(tmp_path), 'config_file': str(overrides),
                           'robot': robot, 'clock': f'/{robot}/clock'},  # not the module graph's
                  only=['sim', 'kinematics', 'actor'], quiet=True)
    classifier = ProbeNode('fake_classifier', '/' + robot)
    publisher = classifier.node.create_publisher(RewardPrediction, 'reward', qos.COMMANDS)

    def always_success():
        msg = RewardPrediction(probability=1.0, success=True, threshold=0.5)
        msg.header.stamp = classifier.node.get_clock().now().to_msg()
        publisher.publish(msg)

    classifier.node.create_timer(0.05, always_success)
    records = tmp_path / 'eval_episodes.jsonl'
    graph.start()
    try:
        # The actor ends an evaluation run by itself once its episodes are done.
        actor = next(n for n in graph.nodes if n.spec.name == 'actor')
        deadline = time.monotonic() + 90
        while actor.process.poll() is None and time.monotonic() < deadline:
            classifier.executor.spin_once(timeout_sec=0.05)
        assert actor.process.poll() == 0, f'actor exit code {actor.process.poll()}'
    finally:
        graph.stop()
        classifier.close()
    assert records.exists(), 'no evaluation episode was recorded'
    record = json.loads(records.read_text().splitlines()[0])
    assert record['mode'] == 'eval'
    assert record['sim_success'] is False and record['success'] is False, record
    assert record['length'] == 10, record  # truncated, not ended by the classifier's verdict
    failures = unclean_stops(graph.nodes)
    assert not failures, failures


def test_each_step_s_reward_is_the_verdict_on_its_own_frame(tmp_path):
    """On sim time the reward classifier scores the frames of the control ticks (the first of
    each whole period of its rate) and the step waits for that verdict: a step's reward is of
    the state it reached. Scoring from the first frame the node saw left the reward 0, 64 or
    100 ms old at a step, fixed at start-up."""
    from reward_classifier.model import build_classifier, save_classifier
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # an encoder without pretrained weights
        model = build_classifier('', hidden_dim=16, spatial_features=2,
                                 views=['wrist_camera', 'front_camera'])
    save_classifier(model, tmp_path / 'reward_classifier', 1.0, {})  # never a success
    overrides = tmp_path / 'overrides.yaml'
    overrides.write_text(yaml.safe_dump({'/**': {'ros__parameters': {'control_time_s': 1.5}}}))
    robot = f'r{uuid.uuid4().hex[:8]}'
    graph = Graph('train', {'output_dir': str(tmp_path), 'config_file': str(overrides),
                            'robot': robot, 'clock': f'/{robot}/clock'},  # not the module graph's
                  only=['sim', 'kinematics', 'reward_classifier', 'actor'], quiet=True)
    learner = ProbeNode('reward_phase_learner', '/')  # the actor trains only with a listener
    learner.node.create_subscription(Transition, '/transitions', lambda _: None,
                                     qos.TRANSITIONS)
    learner.spin_in_background()
    records = tmp_path / 'episodes.jsonl'
    graph.start()
    try:
        deadline = time.monotonic() + 120
        while not (records.exists() and records.read_text().strip()):
            assert time.monotonic() < deadline, 'no training episode was recorded'
            dead = graph.failed_required()
            assert dead is None, f'{dead.spec.name} exited{log_tail(dead.log_path)}'
            time.sleep(0.2)
    finally:
        graph.stop()
        learner.close()
    record = json.loads(records.read_text().splitlines()[0])
    assert record['length'] >= 10, record
    assert (record['reward_age_p50_ms'], record['reward_age_p95_ms']) == (0.0, 0.0), record
