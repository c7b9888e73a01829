"""The serving node: the success probability of the actor's step frames, published on
`reward` with the frames' stamp. A thin shell around reward_classifier.model.

It scores the `image_features` the actor publishes each control step: every camera view's
frame and its frozen-backbone feature map, computed once by the actor for its policy too, so
only the classifier's own head runs here (the backbone was a third of the robot side's CPU).
The frames of one step are at most `max_view_skew_s` apart.

Refuses to start (exit 2, message naming the difference) with a model trained on another encoder
or another preprocessing than the workspace's, and stops (exit 2) at the first features that
come from another backbone than the model was trained on, naming both.
"""
import numpy as np
import rclpy
import torch
from sensor_msgs.msg import Image

from hilserl_common.config import ConfigError
from hilserl_common.images import from_msg
from hilserl_common.node import Node, main_for
from hilserl_common.params import load_config
from hilserl_common.preprocessing import IMAGE_SIZE, is_dead_frame
from hilserl_common.qos import COMMANDS, SENSOR_RELIABLE
from hilserl_interfaces.msg import GraspState, ImageFeatures, RewardPrediction
from hilserl_learner.networks.encoder import stored_features
from reward_classifier.config import ServingConfig
from reward_classifier.journal import RewardJournal
from reward_classifier.model import ModelMismatch, load_classifier

_WARN_PERIOD_S = 5.0


class ForeignFeatures(ValueError):
    """Features from another backbone than the model's: every verdict would be meaningless."""


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
        self.create_subscription(ImageFeatures, 'image_features', self.on_features,
                                 SENSOR_RELIABLE)
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

    def on_features(self, msg: ImageFeatures):
        try:
            frames, features = self._views_of(msg)
        except ForeignFeatures as error:
            self.get_logger().fatal(str(error))
            self.exit_code = 2
            rclpy.try_shutdown(context=self.context)
            return
        except ValueError as error:
            self.get_logger().warning(f'no reward for a step: {error}',
                                      throttle_duration_sec=_WARN_PERIOD_S)
            return
        for view, frame in zip(self.views, frames):
            if is_dead_frame(frame):
                self.get_logger().warning(f'the {view} frame is black or flat: is the camera '
                                          'alive? rewards on such frames mean nothing',
                                          throttle_duration_sec=_WARN_PERIOD_S)
        self._score(frames, features, msg)

    def _views_of(self, msg: ImageFeatures):
        """(V x H x W x 3 frames, 1 x V x C x h x w features) of the model's views, in its
        order; ForeignFeatures for another backbone, ValueError for anything else unusable."""
        if msg.encoder_identity != self.model.encoder_identity:
            raise ForeignFeatures(
                f'the actor computes image features with encoder {msg.encoder_identity!r}, '
                f'this classifier ({self.config.model_path}) was trained on encoder '
                f'{self.model.encoder_identity!r}: give the actor and the reward classifier '
                f'the same encoder_weights file')
        missing = [view for view in self.views if view not in msg.views]
        if missing:
            raise ValueError(f'the actor sends no {", ".join(missing)} frames (it sends '
                             f'{", ".join(msg.views) or "none"}): add them to its cameras')
        shape = tuple(msg.shape)
        if shape != tuple(self.model.backbone.feature_shape) or \
                len(msg.features) != len(msg.views) * 2 * int(np.prod(shape)):
            raise ValueError(f'features of shape {shape} in {len(msg.features)} bytes for '
                             f'{len(msg.views)} views; this model reads '
                             f'{self.model.backbone.feature_shape} per view')
        bits = np.frombuffer(bytes(msg.features), '<u2').reshape(len(msg.views), *shape)
        order = [list(msg.views).index(view) for view in self.views]
        stamps = [seconds(msg.images[i].header.stamp) for i in order]
        if max(stamps) - min(stamps) > self.config.max_view_skew_s:
            raise ValueError(f'its views are {max(stamps) - min(stamps):.2f} s apart (limit '
                             f'{self.config.max_view_skew_s} s)')
        frames = np.stack([processed_frame(msg.images[i]) for i in order])
        return frames, stored_features(bits[order])[None]

    def _score(self, frames: np.ndarray, features: torch.Tensor, msg: ImageFeatures):
        probability = float(self.model.predict_features(features)[0])
        if not self.context.ok():
            return  # shut down (Ctrl-C, SIGTERM) while the frame was being scored
        if not np.isfinite(probability):
            self.get_logger().error('the classifier returned a non-finite probability; '
                                    'no reward published', throttle_duration_sec=_WARN_PERIOD_S)
            return
        self.reward_publisher.publish(RewardPrediction(
            header=msg.header, probability=probability,
            success=probability >= self.threshold, threshold=self.threshold))
        if self.journal is not None:
            self.journal.add(frames, probability, seconds(msg.header.stamp), self.sim_success,
                             self.threshold)

    def destroy_node(self):
        if getattr(self, 'journal', None) is not None:
            self.journal.flush()  # the last, partial chunk
        super().destroy_node()


def seconds(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


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
