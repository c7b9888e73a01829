"""The reward classifier's configuration: training (the CLI) and serving (the node), one
dataclass each, read from config/reward_classifier.yaml and validated once."""
import dataclasses

from hilserl_common.config import in_range, non_negative, one_of, param, positive
from reward_classifier.data.augmentation import AugmentationConfig
from so101_description.cameras import camera_views

TRAINING_SECTION = 'reward_classifier_training'
SERVING_SECTION = 'reward_classifier'


def _threshold_or_model(value):
    return None if value == -1.0 or 0.0 <= value <= 1.0 else \
        "a threshold in [0, 1], or -1 to use the model's own"


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    validation_fraction: float = param(0.2, 'share of frames (per class) held out for '
                                       'validation; the split is by frame, seeded',
                                       in_range(0.01, 0.9))
    seed: int = param(0, 'seed of the split, initialisation, shuffling and augmentation')
    epochs: int = param(6, 'most passes over the training frames (and their augmented '
                        'copies)', positive)
    batch_size: int = param(64, 'frames per optimisation step', positive)
    learning_rate: float = param(3e-4, 'Adam learning rate of the trainable parts', positive)
    weight_decay: float = param(0.0, 'AdamW weight decay of the trainable parts', non_negative)
    early_stopping_patience: int = param(2, 'stop after this many epochs without a lower '
                                         'validation loss', positive)
    threshold: float = param(0.5, 'probability at or above which a frame counts as success',
                             in_range(0.0, 1.0))
    balance_classes: bool = param(True, 'weight the loss of success frames by '
                                  'failures/successes so the rarer class counts as much')
    hidden_dim: int = param(256, 'width of the head (Linear -> Dropout -> LayerNorm -> ReLU)',
                            positive)
    dropout: float = param(0.1, 'dropout rate in the head', in_range(0.0, 0.9))
    spatial_features: int = param(8, 'learned spatial embeddings per encoder channel (4x4 map)',
                                  positive)
    encoder_weights: str = param('', 'ResNet-10 weights: a local .safetensors file, a hub id, '
                                 'or empty for seeded random weights (tests only)')
    views: list = param(['wrist_camera'], 'camera views the classifier looks through, in order '
                        '(their <view>/image_proc topics): wrist_camera, front_camera',
                        camera_views)
    augment_brightness: float = param(0.2, 'colour jitter: brightness factor range +-',
                                      in_range(0.0, 1.0))
    augment_contrast: float = param(0.2, 'colour jitter: contrast factor range +-',
                                    in_range(0.0, 1.0))
    augment_saturation: float = param(0.2, 'colour jitter: saturation factor range +-',
                                      in_range(0.0, 1.0))
    augment_shift_px: int = param(4, 'random shift of up to this many pixels (0: off)',
                                  in_range(0, 32))
    augmented_copies: int = param(
        2, 'augmented copies of every training frame, encoded once before the epochs (the '
        'encoder is frozen, so the epochs then only train the head: seconds instead of minutes)',
        in_range(0, 16))
    device: str = param('cpu', 'torch device for training', one_of('cpu', 'cuda'))

    @property
    def augmentation(self) -> AugmentationConfig:
        return AugmentationConfig(self.augment_brightness, self.augment_contrast,
                                  self.augment_saturation, self.augment_shift_px)


@dataclasses.dataclass(frozen=True)
class ServingConfig:
    model_path: str = param('', 'directory (or .safetensors file) of a trained classifier')
    threshold: float = param(-1.0, "decision threshold; -1 uses the model's own",
                             _threshold_or_model)
    encoder_weights: str = param('', 'the encoder weights the workspace uses (same value as '
                                 'the learner); the model must have been trained on them')
    device: str = param('cpu', 'torch device for inference', one_of('cpu', 'cuda'))
    num_threads: int = param(1, 'torch CPU threads for inference (0: torch default)',
                             non_negative)
    max_rate_hz: float = param(10.0, 'score the first frame in each whole period of 1 / this '
                               'on the stamps\' clock (the actor takes one reward per control '
                               'step: on sim time these are the frames of its ticks)', positive)
    max_view_skew_s: float = param(0.1, 'the frames of the views scored together are at most '
                                   'this far apart (s)', positive)
    journal_dir: str = param('', 'keep every scored frame, its probability and stamp here, for '
                             'hard-negative mining (reward_classifier_cli mine); empty: off')
    journal_max_frames: int = param(3000, 'stop journaling after this many scored frames',
                                    positive)
    sim: bool = param(False, 'simulation: journal the simulation\'s own success next to each '
                      'scored frame (labels for mining; never part of the reward)')
