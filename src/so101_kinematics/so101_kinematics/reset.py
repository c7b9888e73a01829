"""IK reset of the arm at the start of an episode (as on the real SO-101 setups): a fixed joint
pose first, then closed-loop IK to the reset EE position plus a small random offset, re-reading
the joints at every iteration, until converged or stalled; the final error is reported.

The arm is reached through three callables so that the same routine drives the simulation
(SimulatedCell), the real arm (ROS actor) and tests.
"""
import dataclasses
import enum
from typing import Callable, List

import numpy as np

from hilserl_common.config import in_range, length, param, positive
from so101_description.model import GRIPPER_INDEX
from so101_kinematics.kinematics import WRIST_ROLL_INDEX, Kinematics, check_joints


@dataclasses.dataclass(frozen=True)
class ResetConfig:
    reset_joint_pose: list = param([0.0, -0.6, 0.3, 1.5, 0.0, 0.8],
                                   'fixed joint pose (rad) the arm goes to first, above the '
                                   'table with the gripper open', length(6))
    reset_ee_position: list = param([0.25, 0.0, 0.07], 'EE position of the episode start in the '
                                    'base frame (m); must match the demos', length(3))
    reset_ee_noise_m: float = param(0.01, 'uniform random offset per axis added to the reset EE '
                                    'position (m)', in_range(0.0, 0.05))
    reset_max_iterations: int = param(50, 'IK iterations of the reset (one per control step)',
                                      positive)
    reset_converged_m: float = param(0.005, 'reset is done when the EE is this close (m)',
                                     positive)
    reset_stalled_m: float = param(0.025, 'a reset that stops improving is accepted this close '
                                   '(m)', positive)
    reset_pose_tolerance_rad: float = param(0.05, 'fixed pose reached when every joint is this '
                                            'close (rad)', positive)
    reset_pose_max_steps: int = param(40, 'control steps allowed to reach the fixed pose',
                                      positive)
    reset_integral_gain: float = param(0.5, 'share of the remaining EE error added to the aim '
                                       'each iteration (cancels servo sag under gravity)',
                                       in_range(0.0, 1.0))


class ResetOutcome(enum.Enum):
    CONVERGED = 'converged'
    STALLED = 'stalled'    # stopped improving within reset_stalled_m: accepted
    FAILED = 'failed'      # farther than reset_stalled_m, or the joints could not be read


@dataclasses.dataclass(frozen=True)
class ResetResult:
    outcome: ResetOutcome
    target: np.ndarray         # (3,) the randomised reset EE position
    final_error_m: float
    iterations: int
    message: str

    @property
    def accepted(self) -> bool:
        return self.outcome is not ResetOutcome.FAILED


ReadJoints = Callable[[], np.ndarray]        # latest measured joints (6,)
CommandJoints = Callable[[np.ndarray], None]  # send joint targets (6,), within limits
WaitStep = Callable[[], None]                # let one control period pass


def sample_reset_target(kinematics: Kinematics, config: ResetConfig,
                        rng: np.random.Generator) -> np.ndarray:
    """Reset EE position plus a uniform offset per axis, inside the workspace bounds."""
    noise = rng.uniform(-config.reset_ee_noise_m, config.reset_ee_noise_m, size=3)
    return kinematics.clip_to_bounds(np.asarray(config.reset_ee_position) + noise)


def go_to_joint_pose(kinematics: Kinematics, pose: np.ndarray, read: ReadJoints,
                     command: CommandJoints, wait: WaitStep, max_step_rad: float,
                     tolerance_rad: float, max_steps: int) -> bool:
    """Walk the joint targets to `pose` at most `max_step_rad` per control step (no jump of the
    real arm); True once every joint is within `tolerance_rad`."""
    pose = kinematics.clip_to_limits(np.asarray(pose, dtype=float))
    start = read()
    if check_joints(start) is not None:
        return False
    commanded = kinematics.clip_to_limits(np.asarray(start, dtype=float))
    for _ in range(max_steps):
        commanded = commanded + np.clip(pose - commanded, -max_step_rad, max_step_rad)
        command(commanded)
        wait()
        measured = read()
        if check_joints(measured) is None and np.all(np.abs(measured - pose) <= tolerance_rad):
            return True
    return False


def ik_reset(kinematics: Kinematics, config: ResetConfig, read: ReadJoints,
             command: CommandJoints, wait: WaitStep, rng: np.random.Generator) -> ResetResult:
    """The whole reset; never raises for a misbehaving arm, the outcome says what happened."""
    pose = np.asarray(config.reset_joint_pose, dtype=float)
    go_to_joint_pose(kinematics, pose, read, command, wait,
                     kinematics.config.max_joint_step_rad, config.reset_pose_tolerance_rad,
                     config.reset_pose_max_steps)
    target = sample_reset_target(kinematics, config, rng)
    held = kinematics.clip_to_limits(pose)  # roll and gripper stay as commanded by the pose
    aim = target.copy()
    errors: List[float] = []
    for iteration in range(1, config.reset_max_iterations + 1):
        measured = read()
        if check_joints(measured) is not None:
            return ResetResult(ResetOutcome.FAILED, target, float('inf'), iteration,
                               f'joints unreadable during reset: {check_joints(measured)}')
        error_vector = target - kinematics.position(measured)
        errors.append(float(np.linalg.norm(error_vector)))
        if errors[-1] <= config.reset_converged_m:
            return _done(ResetOutcome.CONVERGED, target, errors, iteration)
        if _stopped_improving(errors) and errors[-1] <= config.reset_stalled_m:
            return _done(ResetOutcome.STALLED, target, errors, iteration)
        # Integral action on the aim point: a position servo settles short of its target
        # under gravity; the aim stays within 3 cm of the target so it cannot wind up.
        aim = target + np.clip(aim - target + config.reset_integral_gain * error_vector,
                               -0.03, 0.03)
        result = kinematics.inverse(aim, measured)
        joints = result.joints.copy()
        joints[[WRIST_ROLL_INDEX, GRIPPER_INDEX]] = held[[WRIST_ROLL_INDEX, GRIPPER_INDEX]]
        command(joints)
        wait()
    final = float(np.linalg.norm(target - kinematics.position(read())))
    errors.append(final)
    outcome = ResetOutcome.STALLED if final <= config.reset_stalled_m else ResetOutcome.FAILED
    if final <= config.reset_converged_m:
        outcome = ResetOutcome.CONVERGED
    return _done(outcome, target, errors, config.reset_max_iterations)


def _stopped_improving(errors: List[float], window: int = 5, min_gain_m: float = 0.001) -> bool:
    return len(errors) > window and errors[-window - 1] - errors[-1] < min_gain_m


def _done(outcome, target, errors, iterations) -> ResetResult:
    message = (f'reset {outcome.value}: {errors[-1] * 1000:.1f} mm from '
               f'{np.round(target, 3).tolist()} after {iterations} iterations')
    return ResetResult(outcome, target, errors[-1], iterations, message)
