"""Forward and inverse kinematics of the SO-101 `gripperframe` site on MuJoCo, with mink for IK.

IK always starts from the *measured* joints passed in by the caller (closed loop): it keeps no
solution of its own between calls, so the commanded state cannot drift away from the arm
(LeRobot's EE control re-used its own targets and drifted from the real arm). Every result is
safe to command: within the joint limits and within a per-call joint-motion box around the
measured joints. Bad input (NaN, wrong length) gives a result with a status, never an exception.

Frames: positions are in the arm's base frame (`baseframe` site), metres. The EE orientation is
that of the *tool frame*: the gripperframe rotated so that the gripper pointing straight down
(jaws along the base y axis at pan 0) is the identity. Its roll/pitch/yaw (ZYX: R = Rz(yaw)
Ry(pitch) Rx(roll)) are then small and continuous around the top-down grasps of the task; the
Euler singularity sits at a horizontal approach instead of at the pose the task uses most.
"""
import dataclasses
import enum
from typing import Optional, Sequence

import mink
import mujoco
import numpy as np

from hilserl_common.config import ConfigError, in_range, length, non_negative, param, positive
from so101_description.model import (
    BASE_SITE,
    EE_SITE,
    GRIPPER_INDEX,
    JOINT_NAMES,
    load_kinematic_model,
)

# Tool frame in the gripperframe site frame: the site's x axis is the approach direction (out
# of the jaws); the tool's z axis points back along it, so "pointing down" is the identity.
_SITE_TO_TOOL = np.array([[0.0, 0.0, -1.0],
                          [0.0, 1.0, 0.0],
                          [1.0, 0.0, 0.0]])
APPROACH_AXIS_IN_SITE = np.array([1.0, 0.0, 0.0])
CLOSING_AXIS_IN_SITE = np.array([0.0, 0.0, 1.0])
WRIST_ROLL_INDEX = JOINT_NAMES.index('wrist_roll')


@dataclasses.dataclass(frozen=True)
class KinematicsConfig:
    """What the IK needs to know; shared task values come from config/task.yaml (`/**`)."""
    ee_bounds_min: list = param([0.10, -0.15, 0.01], 'lower corner of the EE workspace box in '
                                'the base frame (m)', length(3))
    ee_bounds_max: list = param([0.35, 0.15, 0.25], 'upper corner of the EE workspace box in '
                                'the base frame (m)', length(3))
    ik_position_tolerance_m: float = param(0.001, 'IK stops when the EE is this close to the '
                                           'target (m)', positive)
    ik_max_iterations: int = param(30, 'IK iterations per call (each ~0.5 ms)', positive)
    max_joint_step_rad: float = param(0.35, 'largest change of any arm joint in one IK call, '
                                      'relative to the measured joints (rad)', positive)
    approach_down_cost: float = param(0.02, 'weight of keeping the gripper pointing down '
                                      'relative to reaching the position (0: position only)',
                                      non_negative)
    ik_damping: float = param(1e-4, 'Levenberg-Marquardt damping of the IK step',
                              in_range(0.0, 1.0))

    def __post_init__(self):
        if any(lo >= hi for lo, hi in zip(self.ee_bounds_min, self.ee_bounds_max)):
            raise ConfigError(f'ee_bounds_min {self.ee_bounds_min} must be below '
                              f'ee_bounds_max {self.ee_bounds_max} on every axis')


class IKStatus(enum.IntEnum):
    """Same values as hilserl_interfaces/srv/ComputeIK."""
    OK = 0              # target reached within tolerance
    CLIPPED = 1         # target was outside the workspace bounds; reached the clipped target
    NOT_CONVERGED = 2   # best effort (unreachable, or limited by the per-call joint step)
    INVALID_INPUT = 3   # NaN / wrong length


@dataclasses.dataclass(frozen=True)
class EEPose:
    """The tool frame in the base frame. `ok` is False (and the numbers NaN) for bad joints."""
    position: np.ndarray      # (3,) m
    quat_wxyz: np.ndarray     # (4,) unit quaternion, MuJoCo order (w, x, y, z)
    rpy: np.ndarray           # (3,) roll, pitch, yaw (rad), ZYX convention
    ok: bool = True
    message: str = ''


@dataclasses.dataclass(frozen=True)
class IKResult:
    status: IKStatus
    message: str
    joints: np.ndarray        # (6,) joint targets, always within limits
    target: np.ndarray        # (3,) the target actually aimed at (after clipping); NaN if invalid
    reached: np.ndarray       # (3,) FK of `joints`
    error_m: float            # |reached - target|; inf if invalid
    iterations: int
    clipped: bool             # the requested target was outside the workspace bounds
    commandable: bool = True  # False only when the measured joints themselves were unusable

    @property
    def converged(self) -> bool:
        return self.status in (IKStatus.OK, IKStatus.CLIPPED)


def rotation_to_rpy(rotation: np.ndarray) -> np.ndarray:
    """Roll, pitch, yaw (ZYX) of a 3x3 rotation matrix."""
    pitch = np.arcsin(np.clip(-rotation[2, 0], -1.0, 1.0))
    roll = np.arctan2(rotation[2, 1], rotation[2, 2])
    yaw = np.arctan2(rotation[1, 0], rotation[0, 0])
    return np.array([roll, pitch, yaw])


def _invalid_pose(message: str) -> EEPose:
    nan3 = np.full(3, np.nan)
    return EEPose(nan3, np.full(4, np.nan), nan3.copy(), ok=False, message=message)


def check_joints(joints) -> Optional[str]:
    """None when `joints` is 6 finite numbers, else what is wrong with it."""
    try:
        array = np.asarray(joints, dtype=float)
    except (TypeError, ValueError):
        return f'joint positions {joints!r} are not numbers'
    if array.shape != (len(JOINT_NAMES),):
        return f'expected {len(JOINT_NAMES)} joint positions, got shape {array.shape}'
    if not np.all(np.isfinite(array)):
        return f'joint positions contain NaN/inf: {array.tolist()}'
    return None


class Kinematics:
    """FK and closed-loop IK of one SO-101. Not thread-safe: one instance per thread."""

    def __init__(self, config: KinematicsConfig = KinematicsConfig()):
        self.config = config
        self.model = load_kinematic_model()
        self._data = mujoco.MjData(self.model)
        self._ee_site = self.model.site(EE_SITE).id
        self._base_site = self.model.site(BASE_SITE).id
        self.lower = self.model.jnt_range[:, 0].copy()
        self.upper = self.model.jnt_range[:, 1].copy()
        self.bounds_min = np.asarray(config.ee_bounds_min, dtype=float)
        self.bounds_max = np.asarray(config.ee_bounds_max, dtype=float)
        self._configuration = mink.Configuration(self.model)
        self._position_task = mink.FrameTask(EE_SITE, 'site', position_cost=1.0,
                                             orientation_cost=0.0)
        self._approach_task = mink.AxisAlignTask(EE_SITE, 'site', axis=APPROACH_AXIS_IN_SITE,
                                                 cost=config.approach_down_cost)
        self._approach_task.set_target(np.array([0.0, 0.0, -1.0]))
        self._step_box = mink.ConfigurationLimit(self.model, gain=1.0)
        mujoco.mj_kinematics(self.model, self._data)
        self._base_position = self._data.site_xpos[self._base_site].copy()
        self._base_rotation = self._data.site_xmat[self._base_site].reshape(3, 3).copy()

    # --- forward -------------------------------------------------------------------------

    def forward(self, joints: Sequence[float]) -> EEPose:
        """Pose of the tool frame in the base frame for 6 joint positions (rad)."""
        problem = check_joints(joints)
        if problem:
            return _invalid_pose(problem)
        position, rotation = self._site_pose(np.asarray(joints, dtype=float))
        tool = rotation @ _SITE_TO_TOOL
        quat = np.empty(4)
        mujoco.mju_mat2Quat(quat, tool.reshape(-1))
        return EEPose(position, quat, rotation_to_rpy(tool))

    def position(self, joints: Sequence[float]) -> np.ndarray:
        """EE position (3,) in the base frame; NaN for bad joints."""
        return self.forward(joints).position

    def approach_axis(self, joints: Sequence[float]) -> np.ndarray:
        """Unit vector out of the jaws, in the base frame (straight down is (0, 0, -1))."""
        _, rotation = self._site_pose(np.asarray(joints, dtype=float))
        return rotation @ APPROACH_AXIS_IN_SITE

    def closing_axis(self, joints: Sequence[float]) -> np.ndarray:
        """Unit vector from the fixed jaw towards the moving jaw, in the base frame: the jaws
        grip an object centred about 1.3 cm along it from the gripperframe."""
        _, rotation = self._site_pose(np.asarray(joints, dtype=float))
        return rotation @ CLOSING_AXIS_IN_SITE

    def _site_pose(self, joints: np.ndarray):
        self._data.qpos[:] = joints
        mujoco.mj_kinematics(self.model, self._data)
        base_rotation = self._data.site_xmat[self._base_site].reshape(3, 3)
        base_position = self._data.site_xpos[self._base_site]
        world_rotation = self._data.site_xmat[self._ee_site].reshape(3, 3)
        world_position = self._data.site_xpos[self._ee_site]
        position = base_rotation.T @ (world_position - base_position)
        return position.copy(), base_rotation.T @ world_rotation

    # --- workspace -----------------------------------------------------------------------

    def clip_to_bounds(self, position: np.ndarray) -> np.ndarray:
        return np.clip(position, self.bounds_min, self.bounds_max)

    def clip_to_limits(self, joints: np.ndarray) -> np.ndarray:
        return np.clip(joints, self.lower, self.upper)

    # --- inverse -------------------------------------------------------------------------

    def inverse(self, target: Sequence[float], measured_joints: Sequence[float],
                max_iterations: Optional[int] = None,
                max_joint_step_rad: Optional[float] = None) -> IKResult:
        """Joint targets that bring the EE towards `target` (base frame, m), starting from the
        measured joints. The wrist roll and the gripper are held at their measured values.
        Never raises for bad input: see IKResult.status."""
        problem = check_joints(measured_joints)
        if problem:
            return self._invalid(f'measured joints: {problem}', measured_joints,
                                 commandable=False)
        measured = self.clip_to_limits(np.asarray(measured_joints, dtype=float))
        try:
            requested = np.asarray(target, dtype=float)
        except (TypeError, ValueError):
            requested = np.full(1, np.nan)
        if requested.shape != (3,) or not np.all(np.isfinite(requested)):
            return self._invalid(f'target {target!r} is not 3 finite numbers; holding the '
                                 f'measured joints', measured, commandable=True)
        goal = self.clip_to_bounds(requested)
        clipped = bool(np.any(np.abs(goal - requested) > 1e-9))
        iterations = max_iterations or self.config.ik_max_iterations
        step = self.config.max_joint_step_rad if max_joint_step_rad is None else max_joint_step_rad
        joints, used, solver_problem = self._solve(goal, measured, iterations, step)
        reached = self.position(joints)
        error = float(np.linalg.norm(reached - goal))
        return self._result(goal, requested, clipped, joints, reached, error, used,
                            solver_problem)

    def _solve(self, goal, measured, max_iterations, max_step):
        """mink iterations on a copy of the measured joints inside the per-call motion box."""
        step = np.full(len(JOINT_NAMES), max_step)
        step[[WRIST_ROLL_INDEX, GRIPPER_INDEX]] = 0.0  # IK moves position, not roll or jaws
        box_lower = np.maximum(self.lower, measured - step)
        box_upper = np.minimum(self.upper, measured + step)
        self._step_box.lower = box_lower
        self._step_box.upper = box_upper
        self._position_task.set_target(mink.SE3.from_translation(self._goal_in_world(goal)))
        tasks = [self._position_task]
        if self.config.approach_down_cost > 0:
            tasks.append(self._approach_task)
        q = measured.copy()
        used = 0
        for used in range(1, max_iterations + 1):
            self._configuration.update(q)
            if np.linalg.norm(self.position(q) - goal) <= self.config.ik_position_tolerance_m:
                used -= 1
                break
            try:
                velocity = mink.solve_ik(self._configuration, tasks, 1.0, 'daqp',
                                         damping=self.config.ik_damping,
                                         limits=[self._step_box])
            except Exception as error:  # solver failure: keep the best joints found so far
                return np.clip(q, box_lower, box_upper), used, f'IK solver failed: {error}'
            q_next = np.clip(self._configuration.integrate(velocity, 1.0), box_lower, box_upper)
            stalled = np.max(np.abs(q_next - q)) < 1e-6
            q = q_next
            if stalled and len(tasks) > 1:
                # Pointing down and reaching the position conflict here (edge of the
                # workspace): position wins, so finish on the position alone.
                tasks = tasks[:1]
            elif stalled:  # on a joint limit, the step box, or at a local optimum
                break
        return np.clip(q, box_lower, box_upper), used, None

    def _goal_in_world(self, goal: np.ndarray) -> np.ndarray:
        """mink works in the world frame; the base site is fixed in it (no joint above it)."""
        return self._base_position + self._base_rotation @ goal

    def _result(self, goal, requested, clipped, joints, reached, error, iterations,
                solver_problem) -> IKResult:
        converged = error <= self.config.ik_position_tolerance_m * 1.5
        where = f'target {np.round(requested, 4).tolist()}'
        if clipped:
            where += f' clipped to the workspace bounds at {np.round(goal, 4).tolist()}'
        if solver_problem:
            status, message = IKStatus.NOT_CONVERGED, f'{where}: {solver_problem}'
        elif not converged:
            status = IKStatus.NOT_CONVERGED
            message = (f'{where}: {error * 1000:.1f} mm away after {iterations} iterations '
                       f'(unreachable, or farther than one call\'s joint step)')
        elif clipped:
            status, message = IKStatus.CLIPPED, where
        else:
            status, message = IKStatus.OK, ''
        return IKResult(status, message, joints, goal, reached, error, iterations, clipped)

    def _invalid(self, message, joints, commandable) -> IKResult:
        """Hold: the measured joints (clipped into limits) when they are usable. Otherwise the
        joints cannot be known; `commandable` is False and the caller must not command."""
        safe = self._safe_joints(joints)
        return IKResult(IKStatus.INVALID_INPUT, message, safe, np.full(3, np.nan),
                        self.position(safe), float('inf'), 0, False, commandable)

    def _safe_joints(self, joints) -> np.ndarray:
        middle = (self.lower + self.upper) / 2
        try:
            array = np.asarray(joints, dtype=float)
        except (TypeError, ValueError):
            return middle
        if array.shape != middle.shape:
            return middle
        return self.clip_to_limits(np.where(np.isfinite(array), array, middle))
