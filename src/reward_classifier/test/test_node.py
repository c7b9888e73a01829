"""The serving node over real rclpy: it scores the image features the actor publishes each
step (made here by the actor's own code, hilserl_actor.frames and .messages) and publishes a
stamped success probability; it refuses a model that does not fit the configured encoder, and
stops at features of another backbone."""
import os
import signal
import subprocess
import time
import warnings

import numpy as np
import pytest
import rclpy
from ament_index_python.packages import get_package_prefix
from rclpy.executors import SingleThreadedExecutor

from hilserl_actor.frames import FrameEncoder
from hilserl_actor.messages import image_features_msg
from hilserl_common.qos import COMMANDS, SENSOR_RELIABLE
from hilserl_interfaces.msg import ImageFeatures, RewardPrediction
from hilserl_learner.networks.encoder import load_backbone, save_backbone_weights
from hilserl_testing.nodes import stop_process

pytestmark = [pytest.mark.graph, pytest.mark.filterwarnings('ignore:NO PRETRAINED')]
NAMESPACE = '/rc_test'


def _executable() -> str:
    return os.path.join(get_package_prefix('reward_classifier'), 'lib', 'reward_classifier',
                        'reward_classifier')


def _start(*parameters) -> subprocess.Popen:
    args = [_executable(), '--ros-args', '-r', f'__ns:={NAMESPACE}']
    for parameter in parameters:
        args += ['-p', parameter]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _stop(process: subprocess.Popen):
    stop_process(process, signal.SIGTERM, timeout=10, name='reward_classifier')


class StepPublisher:
    """An actor's image_features on a node of its own; `rewards`: what comes back."""

    def __init__(self, name: str, seed: int = 0):
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(name, namespace=NAMESPACE, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.rewards = []
        self.node.create_subscription(RewardPrediction, 'reward', self.rewards.append, COMMANDS)
        self.publisher = self.node.create_publisher(ImageFeatures, 'image_features',
                                                    SENSOR_RELIABLE)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            self.encoder = FrameEncoder(load_backbone('', seed=seed))

    def matched(self, process, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and process.poll() is None and not (
                self.node.count_publishers('reward')
                and self.publisher.get_subscription_count()):
            self.executor.spin_once(timeout_sec=0.1)
        assert self.publisher.get_subscription_count(), \
            f'the classifier did not subscribe within {timeout_s} s ({process.poll()})'

    def send(self, frames) -> None:
        """frames: view -> (stamp s, frame), the first view's stamp the step's."""
        self.publisher.publish(image_features_msg(frames, self.encoder.encode(frames),
                                                  self.encoder))
        self.executor.spin_once(timeout_sec=0.05)

    def wait(self, condition, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not condition():
            self.executor.spin_once(timeout_sec=0.05)

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.context.try_shutdown()


def stamp_s(msg) -> float:
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


def test_the_node_publishes_stamped_predictions_for_each_step(trained_model, make_frame):
    process = _start(f'model_path:={trained_model}')
    actor = StepPublisher('rc_test_actor')
    rng = np.random.default_rng(5)
    sent = {}
    try:
        actor.matched(process)
        for step in range(10):
            success = step % 2 == 1
            sent[1000.0 + step * 0.1] = success
            actor.send({'wrist_camera': (1000.0 + step * 0.1, make_frame(success, rng))})
        actor.wait(lambda: len(actor.rewards) >= 10)
        assert len(actor.rewards) == 10, f'{len(actor.rewards)} predictions for 10 steps'
        for prediction in actor.rewards:
            stamp = min(sent, key=lambda s: abs(s - stamp_s(prediction)))
            assert abs(stamp - stamp_s(prediction)) < 1e-6  # the step's own stamp
            assert 0.0 <= prediction.probability <= 1.0
            assert prediction.threshold == pytest.approx(0.5)
            assert prediction.success == (prediction.probability >= 0.5)
            assert prediction.success == sent[stamp]      # the trained model tells them apart
    finally:
        actor.close()
        _stop(process)


def test_the_node_refuses_a_model_trained_on_another_encoder(trained_model, tmp_path):
    other = tmp_path / 'other_resnet10.safetensors'
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        save_backbone_weights(load_backbone('', seed=2), str(other))
    process = _start(f'model_path:={trained_model}', f'encoder_weights:={other}')
    try:
        _, stderr = process.communicate(timeout=60)
    finally:
        _stop(process)
    assert process.returncode == 2
    assert 'encoder mismatch' in stderr and 'random-seed0' in stderr and 'other_resnet10' in stderr
    assert 'Traceback' not in stderr
    process = _start("model_path:=''")
    try:
        _, stderr = process.communicate(timeout=60)
    finally:
        _stop(process)
    assert process.returncode == 2 and "'model_path' is empty" in stderr


def test_a_two_view_model_scores_steps_whose_views_are_close_and_stops_at_a_foreign_backbone(
        tmp_path, make_frame):
    """A reward for each step whose front frame is at most max_view_skew_s from the wrist
    frame, stamped like the wrist frame; features of another backbone than the model's stop
    the node (exit 2), naming both."""
    from reward_classifier.model import build_classifier, save_classifier
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        model = build_classifier('', hidden_dim=16, spatial_features=2,
                                 views=['wrist_camera', 'front_camera'])
    save_classifier(model, tmp_path / 'two_views', 0.5, {})
    process = _start(f'model_path:={tmp_path / "two_views"}', 'max_view_skew_s:=0.1')
    actor = StepPublisher('rc_test_actor2')
    rng = np.random.default_rng(6)
    try:
        actor.matched(process)
        actor.send({'wrist_camera': (100.0, make_frame(False, rng))})  # no front view
        actor.send({'wrist_camera': (100.1, make_frame(False, rng)),   # 0.2 s apart
                    'front_camera': (99.9, make_frame(False, rng))})
        for step in range(5):
            actor.send({'wrist_camera': (200.0 + step / 10, make_frame(False, rng)),
                        'front_camera': (200.0 + step / 10 - 0.03, make_frame(False, rng))})
        actor.wait(lambda: len(actor.rewards) >= 5)
        stamps = [stamp_s(m) for m in actor.rewards]
        assert np.allclose(stamps, [200.0, 200.1, 200.2, 200.3, 200.4]), stamps
        foreign = StepPublisher('rc_test_foreign', seed=3)
        try:
            foreign.matched(process)
            foreign.send({'wrist_camera': (300.0, make_frame(False, rng)),
                          'front_camera': (300.0, make_frame(False, rng))})
            _, stderr = process.communicate(timeout=30)
        finally:
            foreign.close()
        assert process.returncode == 2, stderr[-2000:]
        assert 'random-seed3' in stderr and 'random-seed0' in stderr, stderr[-2000:]
        assert 'same encoder_weights' in stderr
    finally:
        actor.close()
        _stop(process)
