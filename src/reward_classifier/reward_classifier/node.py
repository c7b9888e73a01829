"""The serving node: the success probability of the processed camera frames, published on
`reward` with the frame's stamp. A thin shell around reward_classifier.model.

It listens to `<view>/image_proc` of every view the model was trained on (wrist_camera,
front_camera) and scores the first view's first frame in each whole period of `max_rate_hz` (the
actor needs one reward per control step), with the other views' frames closest to it when they
are at most `max_view_skew_s` apart (reward_classifier/frame_sets.py).

Refuses to start (exit 2, message naming the difference) with a model trained on another encoder
or another preprocessing than the workspace's.
"""
import numpy as np
import torch
from sensor_msgs.msg import Image

from hilserl_common.config import ConfigError
from hilserl_common.images import from_msg
from hilserl_common.node import Node, main_for
from hilserl_common.params import load_config
from hilserl_common.preprocessing import IMAGE_SIZE, is_dead_frame
from hilserl_common.qos import COMMANDS, SENSOR, SENSOR_RELIABLE
from hilserl_common.stamps import NS_PER_S, nanoseconds
from hilserl_interfaces.msg import GraspState, RewardPrediction
from reward_classifier.config import ServingConfig
from reward_classifier.frame_sets import FrameSet, FrameSets
from reward_classifier.journal import RewardJournal
from reward_classifier.model import ModelMismatch, load_classifier

_WARN_PERIOD_S = 5.0


class RewardClassifierNode(Node):
    def __init__(self):
        super().__init__('reward_classifier')
        self.config = load_config(self, ServingConfig)
        if not self.config.model_path:
            raise ConfigError(f'node {self.get_fully_qualified_name()}: parameter '
                              f"'model_path' is empty; train a model with "
                              f'`reward_classifier_cli train` and set model_path to its folder')
        if self.config.device == 'cuda' and not torch.cuda.is_available():
            raise ConfigError("parameter 'device' = 'cuda', but torch sees no GPU")
        if self.config.num_threads:
            # One thread: inference does not fight the other nodes for the CPU.
            torch.set_num_threads(self.config.num_threads)
        try:
            self.model, description = load_classifier(self.config.model_path,
                                                      self.config.encoder_weights)
        except ModelMismatch as error:
            raise ConfigError(f'cannot serve {self.config.model_path}: {error}') from None
        self.model.to(self.config.device)
        self.threshold = self.config.threshold if self.config.threshold >= 0.0 \
            else float(description['threshold'])
        self.reward_publisher = self.create_publisher(RewardPrediction, 'reward', COMMANDS)
        self.views = self.model.views
        self.frame_sets = FrameSets(self.views, self.config.max_rate_hz,
                                    self.config.max_view_skew_s)
        for view in self.views:
            self.create_subscription(Image, f'{view}/image_proc',
                                     lambda msg, view=view: self.on_image(view, msg), SENSOR)
        self.journal = (RewardJournal(self.config.journal_dir, self.config.journal_max_frames)
                        if self.config.journal_dir else None)
        self.sim_success = None  # the simulation's newest verdict, journaled only
        if self.config.sim and self.journal is not None:
            self.create_subscription(GraspState, 'sim/grasp_state',
                                     lambda msg: setattr(self, 'sim_success', bool(msg.success)),
                                     SENSOR_RELIABLE)
        accuracy = description.get('metrics', {}).get('validation_accuracy')
        self.get_logger().info(
            f'serving {self.config.model_path} (views {", ".join(self.views)}, encoder '
            f'{self.model.encoder_identity}, threshold {self.threshold:.3f}, validation '
            f'accuracy {accuracy})')

    def on_image(self, view: str, msg: Image):
        try:
            image = processed_frame(msg)
        except ValueError as error:
            self.get_logger().warning(f'skipping a {view} frame: {error}',
                                      throttle_duration_sec=_WARN_PERIOD_S)
            return
        if is_dead_frame(image):
            self.get_logger().warning(f'the {view} frame is black or flat: is the camera '
                                      'alive? rewards on such frames mean nothing',
                                      throttle_duration_sec=_WARN_PERIOD_S)
        ready, dropped = self.frame_sets.add(view, nanoseconds(msg.header.stamp), image, msg)
        if dropped:
            self.get_logger().warning(dropped, throttle_duration_sec=_WARN_PERIOD_S)
        if ready is not None:
            self._score(ready)

    def _score(self, frame_set: FrameSet):
        probability = float(self.model.predict(frame_set.frames[None])[0])
        if not self.context.ok():
            return  # shut down (Ctrl-C, SIGTERM) while the frame was being scored
        if not np.isfinite(probability):
            self.get_logger().error('the classifier returned a non-finite probability; '
                                    'no reward published', throttle_duration_sec=_WARN_PERIOD_S)
            return
        self.reward_publisher.publish(RewardPrediction(
            header=frame_set.context.header, probability=probability,
            success=probability >= self.threshold, threshold=self.threshold))
        if self.journal is not None:
            self.journal.add(frame_set.frames, probability, frame_set.stamp_ns / NS_PER_S,
                             self.sim_success, self.threshold)

    def destroy_node(self):
        if getattr(self, 'journal', None) is not None:
            self.journal.flush()  # the last, partial chunk
        super().destroy_node()


def processed_frame(msg: Image) -> np.ndarray:
    """The 128 x 128 RGB frame of an image_proc message, or ValueError saying what is wrong."""
    image = from_msg(msg)
    if msg.encoding == 'bgr8':
        image = np.ascontiguousarray(image[..., ::-1])
    if image.shape != (IMAGE_SIZE, IMAGE_SIZE, 3):
        raise ValueError(f'expected a processed {IMAGE_SIZE}x{IMAGE_SIZE} rgb8 frame, got '
                         f'{msg.width}x{msg.height} {msg.encoding}')
    return image


main = main_for(RewardClassifierNode)
