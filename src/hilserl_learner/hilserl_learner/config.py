"""Every hyperparameter and setting of the learner in one validated dataclass.

Defaults are the HIL-SERL values that worked on a real SO-101 (batch 256, discount 0.97,
learning rates 3e-4, initial temperature 0.01, target entropy -2, two critics) and what the
measurements in this workspace chose where a 2-core CPU differs from a GPU (noted per field).
`config/learner.yaml` holds the same values in ROS parameter format; the node reads them with
`hilserl_common.params.load_config`, tests and benchmarks with `from_dict`.
"""
from dataclasses import dataclass
from typing import List

from hilserl_common.config import from_dict, in_range, non_negative, one_of, param, positive

STATE_DIM = 18          # 6 joint positions, 6 joint velocities, EE xyz, EE roll/pitch/yaw
ACTION_DIM = 3          # EE delta, normalised to [-1, 1]
GRIPPER_ACTIONS = 3     # close, stay, open (Transition.GRIPPER_*)
IMAGE_SHAPE = (128, 128, 3)


def _non_empty_positive(value):
    return None if value and all(v > 0 for v in value) else 'a non-empty list of sizes > 0'


@dataclass(frozen=True)
class LearnerConfig:
    # --- SAC -----------------------------------------------------------------------------
    batch_size: int = param(256, 'transitions per critic update (online + demo)', positive)
    utd_ratio: float = param(
        4.0, 'critic updates per environment step received, held in both directions. The '
        'learner does no more than this: it rests while no new data comes (evaluation steps '
        'are not sent to it), so an evaluation round judges one policy instead of several '
        'trained on frozen data in between. And a simulation waits while the learner owes more '
        '(sim time stands still); on the real arm a shortfall is reported in learner_stats and '
        '/diagnostics. The working real setups ran 2-4; in process (privileged state) 2 per step '
        'reached 35-60% evaluation success, 4 per step 75-90%', positive)
    actor_update_period: int = param(
        2, 'critic updates per actor + temperature update (HIL-SERL: one per utd_ratio, i.e. one '
        'per env step; 2 keeps that at the ~2 critic updates per step a CPU manages)', positive)
    discount: float = param(0.97, 'discount factor gamma', in_range(0.0, 1.0))
    actor_lr: float = param(3e-4, 'actor learning rate', positive)
    critic_lr: float = param(3e-4, 'critic (and encoder) learning rate', positive)
    gripper_critic_lr: float = param(3e-4, 'gripper critic learning rate', positive)
    temperature_lr: float = param(3e-4, 'temperature learning rate', positive)
    temperature_init: float = param(0.01, 'initial SAC temperature alpha', positive)
    target_entropy: float = param(-2.0, 'entropy the temperature steers the actor towards')
    temperature_max: float = param(
        0.02, 'ceiling of the temperature alpha (0: none). The behaviour-cloning term holds the '
        'policy\'s entropy below the target (-4 to -6 against -2 in process, privileged state), '
        'so the temperature loss never changes sign and Adam grows alpha by a steady factor '
        '(about x1.3 every 10 episodes at 4 updates per step) until the entropy bonus outweighs '
        'the critic: through the tanh it pulls each action towards no motion (about 2 alpha '
        'tanh(u) per dimension), while a step closer to the cube is worth only about 0.02 in Q '
        '(sparse reward, discount 0.97). With alpha at 0.45 the policy learned and then forgot; '
        'at a ceiling of 0.05 its evaluation fell from 100% to 75% between episodes 80 and 140, '
        'the failed episodes stopping 2.5-6 cm short of the cube; at 0.02 three seeds evaluated '
        'at 85-100% from episode 40 on (one round of 85%, through 200, 200 and 180 episodes)',
        non_negative)
    num_critics: int = param(2, 'size of the critic ensemble (target: minimum over it)',
                             in_range(1, 20))
    tau: float = param(0.005, 'Polyak rate of the target critics', in_range(0.0, 1.0))
    backup_entropy: bool = param(False, 'subtract alpha * log pi(a\'|s\') in the critic target')
    grad_clip_norm: float = param(10.0, 'gradient norm clip for every network (0: off)',
                                  non_negative)
    gripper_toggle_penalty: float = param(
        0.02, 'subtracted from the gripper critic reward when a command toggles the gripper '
        '(closes after an open command or opens after a close one)', non_negative)
    bc_weight: float = param(
        1.0, 'weight of a behaviour-cloning term in the actor loss: the negative log-likelihood '
        'of the human\'s action under the actor\'s Gaussian on demo and intervention '
        'transitions (sac.losses.behaviour_cloning_loss; 0: pure '
        'HIL-SERL; > 0 pulls the actor to the human while the critic is still uninformed, '
        'which matters when a CPU gives few updates)', non_negative)
    gripper_margin: float = param(
        0.05, 'the gripper critic\'s large-margin term on demo and intervention rows (as in '
        'DQfD): the human\'s gripper command must beat the others by this much in Q, weighted '
        'by bc_weight (0: off). The greedy gripper then closes where the human closed while '
        'the critic cannot yet tell', non_negative)

    # --- networks ------------------------------------------------------------------------
    state_dim: int = param(
        STATE_DIM, 'size of the state vector: the 18 proprioceptive values, more only when a '
        'simulation diagnostic appends privileged state (hilserl_experiments.in_process)', positive)
    latent_dim: int = param(256, 'size of the image and of the state embedding', positive)
    hidden_dims: List[int] = param([256, 256], 'actor and critic MLP sizes', _non_empty_positive)
    gripper_hidden_dims: List[int] = param([128, 128], 'gripper critic MLP sizes',
                                           _non_empty_positive)
    encoder: str = param('resnet10', 'image backbone: frozen-able ResNet-10 or a small conv net '
                         'trained from scratch', one_of('resnet10', 'small_conv'))
    encoder_weights: str = param(
        '', 'ResNet-10 weights: a local .safetensors file, a hub id, or empty for a fixed '
        'random initialisation (warned about)')
    freeze_encoder: bool = param(True, 'keep the image backbone fixed (HIL-SERL default)')
    image_encoder_hidden_dim: int = param(32, 'channels of the small_conv encoder', positive)
    image_head: str = param(
        'bottleneck', 'image head on the feature map: bottleneck (a learned 1x1 convolution to '
        'bottleneck_channels per cell, then a linear map) or spatial (HIL-SERL\'s spatial '
        'learned embeddings). Bottleneck by default: about twice the updates per second on a '
        'CPU, and with the pretrained encoder 100% evaluation success after 20 episodes where '
        'spatial had 50% (in process, simulation reward)', one_of('spatial', 'bottleneck'))
    bottleneck_channels: int = param(32, 'channels per cell of the bottleneck image head',
                                     positive)
    spatial_features: int = param(8, 'learned embeddings per channel of the feature map',
                                  positive)
    image_augmentation: bool = param(
        False, 'random-shift augmentation of images (runs the backbone on every sampled image '
        'instead of reusing the features stored with each transition: much slower)')
    augmentation_pad_px: int = param(4, 'random-shift padding in pixels', positive)
    image_dropout: float = param(
        0.0, 'dropout on the spatial embeddings while training (HIL-SERL: 0.1). 0 lets the '
        'embeddings and the projection run as one matmul: about 2x faster updates on a CPU',
        in_range(0.0, 0.9))
    log_std_min: float = param(-5.0, 'lower bound of the actor log standard deviation')
    log_std_max: float = param(2.0, 'upper bound of the actor log standard deviation')

    state_min_std: float = param(
        0.0, 'states standardised by the statistics of the first data (demos and the first '
        'online steps), each value keeping at least this spread (its own units: rad, rad/s, m), '
        'clipped to +-5; 0: raw states. Off by default: with the privileged-state diagnostic, '
        '20 episodes in, raw states gave 80% evaluation success, a floor of 0.05 50% and of 0.01 '
        '30% (values that hardly vary in the demos became huge in the policy\'s own states)',
        non_negative)

    # --- replay (RLPD) -------------------------------------------------------------------
    online_capacity: int = param(60000, 'online buffer size in transitions', positive)
    demo_capacity: int = param(30000, 'demo buffer size in transitions', positive)
    demo_ratio: float = param(0.5, 'share of every batch drawn from the demo buffer (RLPD: 0.5)',
                              in_range(0.0, 1.0))
    training_starts: int = param(100, 'online transitions before the first update',
                                 non_negative)

    # --- demos ---------------------------------------------------------------------------
    demo_paths: str = param('', 'comma-separated rosbag2 directories (MCAP or sqlite3) of demos, '
                            'or folders of recordings with their labels.yaml (the episodes '
                            'labelled successful)')
    demo_cache_dir: str = param('', 'where converted demos are cached (empty: .demo_cache next '
                                'to the recordings)')
    # Shared task values (config/task.yaml, `/**`): the demo conversion must match the actor.
    control_rate_hz: float = param(10.0, 'control rate the demos are resampled to (Hz)', positive)
    action_scale: float = param(0.02, 'EE displacement of a full action per step (m)', positive)
    gripper_change_threshold_rad: float = param(
        0.05, 'gripper change that counts as a close/open command in demos (rad)', positive)

    # --- run -----------------------------------------------------------------------------
    device: str = param('auto', 'torch device (auto: cuda when available)',
                        one_of('auto', 'cpu', 'cuda'))
    precision: str = param(
        'auto', 'dtype of the matmuls of the image projection and of the critics\' hidden '
        'layers, most of an update\'s arithmetic (LayerNorms, outputs, the actor and the losses '
        'stay float32): bf16, fp32, or auto = bf16 on CUDA and on CPUs with AMX, else fp32',
        one_of('auto', 'fp32', 'bf16'))
    seed: int = param(0, 'random seed of networks and sampling', non_negative)
    run_dir: str = param('runs/learner', 'checkpoints, transition journal and stats log')
    resume: bool = param(False, 'restore networks, optimisers, counters and buffers from run_dir')
    checkpoint_period_s: float = param(300.0, 'seconds between checkpoints', positive)
    weights_period_s: float = param(2.0, 'seconds between policy weight broadcasts (a new version '
                                    'only when updates happened since the last)', positive)
    stats_period_s: float = param(1.0, 'seconds between learner statistics', positive)
    progress_period_s: float = param(0.05, 'seconds between learner_progress messages (what a '
                                     'simulation waits on)', positive)
    torch_threads: int = param(
        1, 'CPU threads for torch (0: torch default, all cores). 1 where the learner shares the '
        'CPU with the robot graph: OpenMP threads waiting for busy cores are many times slower',
        non_negative)


def config_from(values: dict = None, source: str = 'learner configuration') -> LearnerConfig:
    """A validated LearnerConfig from a mapping (missing keys keep their defaults)."""
    return from_dict(LearnerConfig, values or {}, source)
