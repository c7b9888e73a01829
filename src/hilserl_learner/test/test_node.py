"""The learner node as a real process over real rclpy topics: it stores good transitions, drops
malformed ones, trains at the configured UTD, broadcasts loadable weights, and after a SIGKILL
resumes with the same buffers and counters."""
import json
import os
import signal
import subprocess
import time

import numpy as np
import pytest
from ament_index_python.packages import get_package_prefix

from hilserl_common import qos
from hilserl_common.images import to_msg
from hilserl_interfaces.msg import LearnerStats, PolicyWeights, Transition
from hilserl_learner.networks.encoder import load_backbone
from hilserl_learner.policy.policy import Policy
from hilserl_testing.nodes import ProbeNode, stop_process

pytestmark = pytest.mark.graph
UTD = 2


class FakeActor(ProbeNode):
    """A test-side node: sends transitions, records /learner_stats and /policy_weights."""

    def __init__(self):
        super().__init__('fake_actor')
        self.stats, self.weights = [], []
        self.node.create_subscription(LearnerStats, '/learner_stats', self.stats.append,
                                      qos.COMMANDS)
        self.node.create_subscription(PolicyWeights, '/policy_weights', self.weights.append,
                                      qos.LATCHED)
        self.publisher = self.node.create_publisher(Transition, '/transitions', qos.TRANSITIONS)
        self.spin_in_background()
        self.rng = np.random.default_rng(0)

    def send(self, episode, step, last=False, intervention=False, **broken):
        msg = Transition(actor_id='robot_1', episode_id=episode, step_id=step)
        msg.state = self.rng.normal(size=18).astype(np.float32).tolist()
        msg.next_state = self.rng.normal(size=18).astype(np.float32).tolist()
        msg.image = to_msg(self.rng.integers(0, 256, (128, 128, 3), dtype=np.uint8))
        msg.next_image = to_msg(self.rng.integers(0, 256, (128, 128, 3), dtype=np.uint8))
        msg.action = self.rng.uniform(-1, 1, 3).astype(np.float32).tolist()
        msg.gripper_action = Transition.GRIPPER_STAY
        msg.reward = float(last)
        msg.terminated = last
        msg.is_intervention = intervention
        for name, value in broken.items():
            setattr(msg, name, value)
        self.publisher.publish(msg)

    def wait_for_learner(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        while self.publisher.get_subscription_count() == 0:
            assert time.monotonic() < deadline, 'the learner never subscribed to /transitions'
            time.sleep(0.05)

    def wait_stats(self, predicate, timeout=60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.stats and predicate(self.stats[-1]):
                return self.stats[-1]
            time.sleep(0.05)
        raise AssertionError(f'learner stats never matched; last: {self.stats[-1:]}')


def start_learner(tmp_path, resume, name):
    params = {'run_dir': str(tmp_path / 'run'), 'resume': resume, 'batch_size': 8,
              'utd_ratio': UTD, 'actor_update_period': 2, 'latent_dim': 16,
              'hidden_dims': '[32]', 'gripper_hidden_dims': '[16]', 'training_starts': 5,
              'checkpoint_period_s': 0.5, 'stats_period_s': 0.1, 'weights_period_s': 0.3,
              'torch_threads': 1, 'device': 'cpu'}
    args = ['--ros-args']
    for key, value in params.items():
        value = str(value).lower() if isinstance(value, bool) else value
        args += ['-p', f'{key}:={value}']
    executable = os.path.join(get_package_prefix('hilserl_learner'), 'lib', 'hilserl_learner',
                              'learner')
    log = open(tmp_path / f'{name}.log', 'w')
    process = subprocess.Popen([executable] + args, stdout=log, stderr=subprocess.STDOUT)
    process.log_path = tmp_path / f'{name}.log'
    return process




@pytest.fixture
def actor():
    actor = FakeActor()
    yield actor
    actor.close()


def test_learner_trains_broadcasts_drops_bad_input_and_resumes_after_a_kill(tmp_path, actor):
    learner = start_learner(tmp_path, resume=False, name='first')
    try:
        actor.wait_for_learner()
        for step in range(20):
            actor.send(0, step, last=step == 19, intervention=step < 4)
        actor.send(1, 0, state=[float('nan')] * 18)                  # not finite
        actor.send(1, 0, next_image=to_msg(np.zeros((64, 64, 3), np.uint8)))  # wrong size
        actor.send(0, 20)                                             # episode 0 had ended
        for step in range(10):
            actor.send(1, step)
        stats = actor.wait_stats(lambda s: s.env_steps == 30 and s.transitions_dropped == 3
                                 and s.optimization_step == UTD * 30)
        assert stats.online_buffer_size == 30 and stats.demo_buffer_size == 4
        assert stats.actor_updates == UTD * 30 // 2
        # The latched weights load on the actor side, checksum checked.
        deadline = time.monotonic() + 10
        while not (actor.weights and actor.weights[-1].optimization_step == UTD * 30):
            assert time.monotonic() < deadline, 'no weights after the last update'
            time.sleep(0.05)
        with pytest.warns(UserWarning):
            backbone = load_backbone('')
        msg = actor.weights[-1]
        policy = Policy.from_weights(bytes(msg.data), msg.sha256, backbone=backbone)
        action, gripper = policy.act(np.zeros(18, np.float32), np.zeros((128, 128, 3), np.uint8))
        assert action.shape == (3,) and gripper in (0, 1, 2)
        # A checkpoint after the last update, then a kill: no chance to save anything more.
        state_file = tmp_path / 'run' / 'checkpoint' / 'state.json'
        deadline = time.monotonic() + 10
        while not (state_file.exists() and json.loads(state_file.read_text())['counters']
                   ['optimization_step'] == UTD * 30):
            assert time.monotonic() < deadline, 'no checkpoint after the last update'
            time.sleep(0.05)
    finally:
        stop_process(learner, signal.SIGKILL, timeout=30)

    actor.stats.clear()
    resumed = start_learner(tmp_path, resume=True, name='resumed')
    try:
        stats = actor.wait_stats(lambda s: True)
        assert (stats.env_steps, stats.online_buffer_size, stats.demo_buffer_size) == (30, 30, 4)
        assert stats.optimization_step == UTD * 30 and stats.actor_updates == UTD * 30 // 2
        # Training continues where it stopped: episode 1 goes on.
        actor.wait_for_learner()
        for step in range(10, 15):
            actor.send(1, step, last=step == 14)
        actor.wait_stats(lambda s: s.env_steps == 35 and s.optimization_step == UTD * 35)
    finally:
        code = stop_process(resumed, signal.SIGTERM, timeout=30, name='learner',
                            log_path=resumed.log_path)
        assert code == 0, resumed.log_path.read_text()[-2000:]
    log = (tmp_path / 'run' / 'learner_stats.jsonl').read_text().splitlines()
    assert json.loads(log[-1])['env_steps'] == 35
    state = json.loads((tmp_path / 'run' / 'checkpoint' / 'state.json').read_text())
    assert state['counters']['optimization_step'] == UTD * 35  # saved on the way out


def test_the_training_thread_may_publish_while_ctrl_c_shuts_the_context_down(tmp_path):
    """Ctrl-C invalidates the context before destroy_node stops the training thread: its next
    publish must not raise (it did: 'publisher's context is invalid')."""
    import rclpy

    from hilserl_learner.node import LearnerNode
    context_args = ['--ros-args', '-p', f'run_dir:={tmp_path}', '-p', 'encoder:=small_conv',
                    '-p', 'image_encoder_hidden_dim:=4', '-p', 'latent_dim:=8']
    rclpy.init(args=context_args)
    try:
        node = LearnerNode()
        snapshot = node.learner.snapshot_weights()
        stats = node.learner.stats()
        rclpy.shutdown()  # what the SIGINT handler does
        node.publish_weights(snapshot)
        node.publish_stats(stats)
        node.publish_progress(1, 2, 3)
        node.destroy_node()  # stops the training thread, writes the checkpoint
        assert (tmp_path / 'checkpoint').exists()
    finally:
        rclpy.try_shutdown()
