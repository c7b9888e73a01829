"""The 18-dim proprioceptive state of the policy, the same on the real arm and in simulation:

    [0:6]   joint positions (rad, model order)
    [6:12]  joint velocities (rad/s) by finite difference of consecutive positions
    [12:15] EE position (m, base frame) from FK
    [15:18] EE roll, pitch, yaw (rad) of the tool frame from FK (see kinematics.py)

Servo drivers give positions only, hence the finite differences; velocities are zero
at the first observation of an episode so nothing leaks across a reset.
"""
from typing import Optional, Sequence

import numpy as np

from so101_description.model import JOINT_NAMES
from so101_kinematics.kinematics import Kinematics, check_joints

STATE_DIM = 18
STATE_NAMES = (
    [f'{j}.pos' for j in JOINT_NAMES] + [f'{j}.vel' for j in JOINT_NAMES]
    + ['ee.x', 'ee.y', 'ee.z', 'ee.roll', 'ee.pitch', 'ee.yaw'])


PRIVILEGED_DIM = 3


def privileged_cube_offset(kinematics: Kinematics, joints: Sequence[float],
                           cube_position: Sequence[float]) -> np.ndarray:
    """Simulation diagnostics only, never on the real arm: the cube centre minus the EE
    position (m, base frame), the privileged state appended to the proprioceptive one to tell a
    learner's failure from the images' (hilserl_experiments.in_process)."""
    return (np.asarray(cube_position, float) - kinematics.position(joints)).astype(np.float32)


def proprioceptive_state(kinematics: Kinematics, joints: Sequence[float],
                         previous_joints: Optional[Sequence[float]], dt_s: float) -> np.ndarray:
    """The 18-dim state (float32). Raises ValueError for joints that are not 6 finite numbers
    (the caller decides whether that observation is stale); a missing previous sample or a
    non-positive dt gives zero velocities."""
    problem = check_joints(joints)
    if problem:
        raise ValueError(problem)
    joints = np.asarray(joints, dtype=float)
    velocities = np.zeros(6)
    if previous_joints is not None and dt_s > 0 and check_joints(previous_joints) is None:
        velocities = (joints - np.asarray(previous_joints, dtype=float)) / dt_s
    pose = kinematics.forward(joints)
    return np.concatenate([joints, velocities, pose.position, pose.rpy]).astype(np.float32)


class ProprioceptionTracker:
    """Keeps the previous sample for the finite differences; reset() at each episode start."""

    def __init__(self, kinematics: Kinematics, nominal_dt_s: float):
        self.kinematics = kinematics
        self.nominal_dt_s = nominal_dt_s
        self._previous: Optional[np.ndarray] = None
        self._previous_time: Optional[float] = None

    def reset(self) -> None:
        """Start of an episode: the next state has zero velocities."""
        self._previous = None
        self._previous_time = None

    def update(self, joints: Sequence[float], time_s: Optional[float] = None) -> np.ndarray:
        """State for a new joint sample. With `time_s` (the sample's stamp) the difference uses
        the real interval, else the nominal control period."""
        dt = self.nominal_dt_s
        if time_s is not None and self._previous_time is not None:
            dt = time_s - self._previous_time
        state = proprioceptive_state(self.kinematics, joints, self._previous, dt)
        self._previous = np.asarray(joints, dtype=float).copy()
        self._previous_time = time_s
        return state
