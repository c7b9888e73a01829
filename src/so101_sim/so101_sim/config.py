"""Configuration of the simulated cell and the simulated operator (config/sim.yaml)."""
import dataclasses

from hilserl_common.config import ConfigError, in_range, length, non_negative, param, positive


@dataclasses.dataclass(frozen=True)
class CellConfig:
    """The scene, its physics and its camera; used by the sim node and by plain-Python users."""
    physics_timestep_s: float = param(0.002, 'MuJoCo timestep (s)', in_range(0.0005, 0.01))
    image_width: int = param(128, 'wrist frame width (px); the frame is rendered square-cropped '
                             'like the real camera after preprocessing', positive)
    image_height: int = param(128, 'wrist frame height (px)', positive)
    camera_fovy_deg: float = param(75.0, 'vertical field of view of the wrist camera (deg), '
                                   'after the square centre crop: a wide-angle USB camera',
                                   in_range(20.0, 120.0))
    front_camera_position: list = param(
        [0.55, -0.20, 0.17], 'fixed front camera: position (base frame, m), in front of the '
        'workspace, to one side and a little above it, so a lifted cube rises in the image',
        length(3))
    front_camera_look_at: list = param([0.24, 0.0, 0.06], 'the point the front camera looks '
                                       'at (m)', length(3))
    front_camera_fovy_deg: float = param(45.0, 'vertical field of view of the front camera '
                                         '(deg), after the square crop', in_range(20.0, 120.0))
    mesh_keep_fraction: float = param(0.05, 'share of the arm mesh triangles the quadric '
                                      'decimation aims at (cached)', in_range(0.005, 1.0))
    mesh_cluster_m: float = param(0.0015, 'grid of the vertex clustering after decimation (m); '
                                  '0 keeps the decimated mesh', in_range(0.0, 0.01))
    cube_size_m: float = param(0.025, 'edge of the red cube (m)', in_range(0.01, 0.05))
    cube_mass_kg: float = param(0.02, 'mass of the cube (kg)', positive)
    cube_region_min: list = param([0.18, -0.08], 'x, y corner of the region the cube is placed '
                                  'in at reset (base frame, m)', length(2))
    cube_region_max: list = param([0.30, 0.08], 'opposite x, y corner of the cube region (m)',
                                  length(2))
    cube_yaw_range_rad: float = param(0.3, 'cube yaw is uniform in +- this around facing the '
                                      'base (rad)', in_range(0.0, 0.7854))
    success_lift_m: float = param(0.03, 'success: the cube is grasped and its bottom is this high '
                                  'above the table (m)', positive)
    reset_joint_pose: list = param([0.0, -0.6, 0.3, 1.5, 0.0, 0.8], 'joint pose (rad) the arm '
                                   'is put in by a scene reset (task.yaml)', length(6))
    seed: int = param(0, 'seed of the first scene; later resets continue the sequence',
                      non_negative)

    def __post_init__(self):
        if any(lo > hi for lo, hi in zip(self.cube_region_min, self.cube_region_max)):
            raise ConfigError(f'cube_region_min {self.cube_region_min} must not exceed '
                              f'cube_region_max {self.cube_region_max}')


@dataclasses.dataclass(frozen=True)
class SimNodeConfig:
    real_time_factor: float = param(1.0, 'simulation speed: 1 is real time; larger runs faster '
                                    'and publishes /clock; 0 is as fast as possible',
                                    in_range(0.0, 100.0))
    evaluation_real_time_factor: float = param(
        1.0, 'simulation speed while the actor evaluates (its actor_status says mode eval), '
        'never below real_time_factor, in a graph on sim time (real_time_factor other than 1, '
        'or wait_for_learner); 0: real_time_factor throughout. The learner rests meanwhile, and '
        'with hold_for_commands the policy meets the same dynamics at any speed',
        in_range(0.0, 100.0))
    joint_state_rate_hz: float = param(30.0, 'joint_states rate in sim time (Hz); the real '
                                       'follower publishes at its bus rate, 30 Hz',
                                       in_range(1.0, 500.0))
    camera_rate_hz: float = param(30.0, 'wrist camera frame rate in sim time (Hz; see '
                                  'render_at_ticks)',
                                  in_range(1.0, 120.0))
    front_camera_rate_hz: float = param(30.0, 'front camera frame rate in sim time (Hz); 0: '
                                        'no front camera', in_range(0.0, 120.0))
    grasp_state_rate_hz: float = param(20.0, 'sim/grasp_state rate in sim time (Hz)',
                                       in_range(1.0, 500.0))
    clock_rate_hz: float = param(
        100.0, '/clock messages per second of sim time, when it publishes /clock: every node on '
        'sim time wakes for each (about half a millisecond of CPU per message and node, so 200 '
        'a second cost 7 nodes most of a core at real time). A node\'s timers then fire on this '
        'grid: at 100 Hz a tenth of a control period late at most, by the same amount every '
        'period', in_range(10.0, 1000.0))
    physics_chunk_s: float = param(0.004, 'sim time stepped between pacing and publishing '
                                   'checks (s; rounded to whole physics timesteps)',
                                   in_range(0.001, 0.05))
    hold_for_commands: bool = param(
        True, 'on sim time, sim time holds at each control tick of the actor\'s episodes until '
        'that tick\'s joint command arrives, so a command takes effect at the instant of the '
        'frame it was computed from at any speed (so101_sim/command_hold.py)')
    command_wait_s: float = param(1.0, 'the longest wall-time hold for one tick\'s command: '
                                  'longer than the actor\'s step takes on a loaded CPU, its waits '
                                  'for the frame and the reward included (a step paused on stale '
                                  'input costs one)', positive)
    control_rate_hz: float = param(10.0, 'the actor\'s control rate: its ticks are the '
                                   'instants hold_for_commands holds at (task.yaml)',
                                   in_range(1.0, 100.0))
    render_at_ticks: bool = param(
        True, 'on sim time, render the cameras no faster than control_rate_hz, on its ticks: '
        'every node on sim time uses only those frames (the actor waits for its tick\'s, the '
        'classifier scores the first of each period): the others were rendered for nobody. '
        'In real time (demonstrations) the actor\'s steps are not on the sim\'s grid and '
        'the cameras keep their rates')
    wait_for_learner: bool = param(False, 'sim time stands still while the learner owes more '
                                   'than learner_slack_updates critic updates (the training '
                                   'graph sets it; implies /clock)')
    learner_slack_updates: int = param(20, 'critic updates the learner may owe before the '
                                       'simulation waits', non_negative)
    learner_timeout_s: float = param(5.0, 'without learner_progress for this long (wall '
                                     'time), the simulation runs free', positive)
