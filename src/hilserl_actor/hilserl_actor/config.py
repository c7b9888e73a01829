"""The actor's configuration (episode loop, rewards, evaluation). Shared task values
(control rate, episode length, action scale, bounds, reset pose) come from config/task.yaml."""
import dataclasses

from hilserl_common.config import in_range, non_negative, one_of, param, positive
from so101_description.cameras import WRIST_CAMERA, camera_views


def recorded_cameras(value):
    """Camera views that include the wrist camera (labels count its frames)."""
    problem = camera_views(value)
    if problem or WRIST_CAMERA not in value:
        return f'{problem or "a list of camera views"} that includes {WRIST_CAMERA}'
    return None


@dataclasses.dataclass(frozen=True)
class ActorConfig:
    mode: str = param('train', 'train: act and send transitions; eval: deterministic actions, '
                      'no transitions, eval_episodes episodes; record: the follower mirrors the '
                      'leader (demonstrations)', one_of('train', 'eval', 'record'))
    sim: bool = param(True, 'the robot is the simulation (scene reset by service, privileged '
                      'success available)')
    control_rate_hz: float = param(10.0, 'control loop rate (Hz)', in_range(1.0, 100.0))
    control_time_s: float = param(10.0, 'episode length; the episode is truncated after it (s)',
                                  positive)
    record_time_s: float = param(20.0, 'record mode: episode length (s); a person needs longer '
                                 'than a policy: grasp, lift, carry the cube around, hold, key '
                                 '(at 10 s such demonstrations ran out of time unmarked and were '
                                 'kept as failures)', positive)
    action_scale: float = param(0.02, 'EE displacement of a full action per step (m)',
                                in_range(0.001, 0.1))
    observation_max_age_s: float = param(0.2, 'an observation older than this pauses the '
                                         'episode instead of acting on stale data (s)', positive)
    frame_wait_s: float = param(0.0, 'at each step, wait up to this long for a wrist frame '
                                'taken at the step\'s time or later, so the policy sees the arm '
                                'as it is: the newest frame of a 30 Hz camera is 0-33 ms old, '
                                'and a policy succeeded 78% of the time on frames 30 ms old '
                                'against 87% on fresh ones (s of wall time; 0: act on the newest). '
                                'A graph on sim time sets 0.02: its simulation renders a '
                                'frame at each tick',
                                non_negative)
    reward_wait_s: float = param(0.0, 'at each step, wait up to this long for the reward '
                                 'classifier\'s verdict on a frame taken at the step\'s time or '
                                 'later, so the step\'s reward is of the state it reached (s of '
                                 'wall time; 0: take the newest). A graph on sim time sets 0.5: '
                                 'sim time holds meanwhile', non_negative)
    reward_source: str = param('classifier', 'where the reward comes from: the reward '
                               'classifier node, or (simulation only) the privileged success',
                               one_of('classifier', 'sim'))
    terminate_on_success: bool = param(True, 'end the episode at the first success')
    gripper_closed_rad: float = param(-0.17, 'gripper joint target of the close action (rad)')
    gripper_open_rad: float = param(0.8, 'gripper joint target of the open action (rad)')
    gripper_change_threshold_rad: float = param(0.05, 'leader gripper change that counts as an '
                                                'open/close command (rad)', positive)
    intervention_max_joint_step_rad: float = param(0.15, 'largest joint change per step while '
                                                   'the follower mirrors the leader (rad)',
                                                   positive)
    eval_episodes: int = param(50, 'episodes of an evaluation run (eval mode)', positive)
    eval_every_episodes: int = param(0, 'train mode: a round of deterministic evaluation after '
                                     'every this many training episodes (0: none)', non_negative)
    eval_round_episodes: int = param(20, 'episodes of one periodic evaluation round (at 20, '
                                     '80% success has a 95% interval of 58-92%)', positive)
    ready_delay_s: float = param(3.0, 'real arm: wait after the reset so the operator can '
                                 'place the cube (s)', non_negative)
    policy_file: str = param('', 'a policy saved by the learner (policy.safetensors) to act '
                             'with from the start, e.g. to evaluate; empty: wait for broadcasts')
    weights_device: str = param('cpu', 'torch device of the policy', one_of('cpu', 'cuda'))
    torch_threads: int = param(1, 'CPU threads of the policy\'s inference; more than one makes '
                               'it many times slower on a CPU shared with other processes '
                               '(OpenMP threads waiting for each other)', positive)
    seed: int = param(0, 'seed of the policy\'s sampling and of the reset offsets',
                      non_negative)
    cameras: list = param([WRIST_CAMERA], 'record mode: every camera the policy or the reward '
                          'classifier looks through; each one\'s processed image (and on the '
                          'real arm its full frame as JPEG) goes into the episode bags',
                          recorded_cameras)
    recording_dir: str = param('', 'record mode: where the episode bags and labels.yaml go; '
                               'empty: <output_dir>/demos')
    output_dir: str = param('runs/latest', 'where episode statistics are written')
    actor_id: str = param('', 'name of this actor in transitions; empty: the node namespace')
    learner_silence_s: float = param(
        5.0, 'train mode: once the learner was heard (its statistics come every second), this '
        'long without a word from it and no new training episode starts until it is heard '
        'again, so a lost link or a stopped learner costs no episodes acted with stale weights '
        'and no transitions beyond what the link keeps (s, on the node\'s clock; 0: never)',
        non_negative)
