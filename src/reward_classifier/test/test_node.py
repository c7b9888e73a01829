"""The serving node over real rclpy: it publishes a stamped success probability for each
processed wrist frame, and refuses a model that does not fit the configured encoder."""
import os
import signal
import subprocess
import time
import warnings

import numpy as np
import pytest
import rclpy
from ament_index_python.packages import get_package_prefix
from builtin_interfaces.msg import Time
from rclpy.executors import SingleThreadedExecutor
from sensor_msgs.msg import Image

from hilserl_common.images import to_msg
from hilserl_common.qos import COMMANDS, SENSOR
from hilserl_interfaces.msg import RewardPrediction
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


def test_the_node_publishes_stamped_predictions_for_each_frame(trained_model, make_frame):
    process = _start(f'model_path:={trained_model}')
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node('rc_test_camera', namespace=NAMESPACE, context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    received = {}
    node.create_subscription(RewardPrediction, 'reward',
                             lambda msg: received.setdefault(
                                 (msg.header.stamp.sec, msg.header.stamp.nanosec), msg), COMMANDS)
    publisher = node.create_publisher(Image, 'wrist_camera/image_proc', SENSOR)
    rng = np.random.default_rng(5)
    sent = {}
    try:
        deadline = time.monotonic() + 45.0
        frame = 0
        while time.monotonic() < deadline and len(received) < 10:
            assert process.poll() is None, process.communicate()[1]
            success = frame % 2 == 1
            stamp = Time(sec=1000 + frame, nanosec=frame * 1000)
            sent[(stamp.sec, stamp.nanosec)] = success
            publisher.publish(to_msg(make_frame(success, rng), stamp, 'wrist_camera'))
            frame += 1
            executor.spin_once(timeout_sec=0.1)
        assert len(received) >= 10, f'only {len(received)} predictions in 45 s'
        for stamp, prediction in received.items():
            assert stamp in sent                         # the image's own stamp
            assert 0.0 <= prediction.probability <= 1.0
            assert prediction.threshold == pytest.approx(0.5)
            assert prediction.success == (prediction.probability >= 0.5)
            assert prediction.success == sent[stamp]     # the trained model tells them apart
    finally:
        executor.shutdown()
        node.destroy_node()
        context.try_shutdown()
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


def test_a_two_view_model_scores_the_first_view_with_the_newest_of_the_other(tmp_path,
                                                                            make_frame):
    """Rewards only for wrist frames that have a front frame close in time, at most
    max_rate_hz of them, stamped like the wrist frame."""
    from reward_classifier.model import build_classifier, save_classifier
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        model = build_classifier('', hidden_dim=16, spatial_features=2,
                                 views=['wrist_camera', 'front_camera'])
    save_classifier(model, tmp_path / 'two_views', 0.5, {})
    process = _start(f'model_path:={tmp_path / "two_views"}', 'max_rate_hz:=5.0',
                     'max_view_skew_s:=0.1')
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node('rc_test_cameras', namespace=NAMESPACE, context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    received = []
    node.create_subscription(RewardPrediction, 'reward', received.append, COMMANDS)
    wrist = node.create_publisher(Image, 'wrist_camera/image_proc', SENSOR)
    front = node.create_publisher(Image, 'front_camera/image_proc', SENSOR)
    rng = np.random.default_rng(6)

    def send(seconds, front_too):
        stamp = Time(sec=int(seconds), nanosec=int(round(seconds % 1 * 1e9)))
        if front_too:
            front.publish(to_msg(make_frame(False, rng), stamp, 'front_camera'))
            executor.spin_once(timeout_sec=0.02)
        wrist.publish(to_msg(make_frame(False, rng), stamp, 'wrist_camera'))
        executor.spin_once(timeout_sec=0.05)

    try:
        # Matched both ways: the node publishes reward and takes both views' frames.
        def matched():
            return (node.count_publishers('reward') and wrist.get_subscription_count()
                    and front.get_subscription_count())
        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline and process.poll() is None and not matched():
            executor.spin_once(timeout_sec=0.1)
        assert matched(), f'the classifier did not match reward, wrist and front within 30 s ' \
                          f'(exit code {process.poll()})'
        for k in range(20):           # wrist frames alone: no reward
            send(100.0 + k / 30, front_too=False)
        for _ in range(10):
            executor.spin_once(timeout_sec=0.05)
        assert received == [], 'a reward without a front frame'
        for k in range(60):           # both views at 30 Hz for 2 s: ~5 Hz of rewards
            send(200.0 + k / 30, front_too=True)
        # Frames at 200.0, 200.2, ..., 201.8 are scored: wait for the last, however slow the
        # machine (a lost best-effort frame may leave fewer).
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline and not any(
                m.header.stamp.sec == 201 and m.header.stamp.nanosec > 7e8 for m in received):
            executor.spin_once(timeout_sec=0.05)
        stamps = [m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for m in received]
        assert 6 <= len(stamps) <= 11, stamps
        assert all(200.0 <= s < 202.0 for s in stamps)
        assert min(np.diff(stamps)) >= 0.19
    finally:
        executor.shutdown()
        node.destroy_node()
        context.try_shutdown()
        _stop(process)
