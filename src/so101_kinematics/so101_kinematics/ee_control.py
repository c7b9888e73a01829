"""EE-delta control of the arm, closed loop on the measured joints, without sinking or windup.

Two naive schemes fail on a position servo that sags under gravity (the STS3215 does, by about
1 cm at the reset pose with the model's identified gains):
- aiming at `FK(previous IK solution) + delta` drifts away from the real arm and winds up when
  the arm is blocked (LeRobot's EE control integrated its own targets and drifted);
- aiming at `FK(measured) + delta` re-adds the sag every step, so a zero action sinks the arm.
Here the EE *reference* is kept between steps but leashed to the measured EE: it moves by the
commanded delta, stays inside the workspace bounds, and never leads the measured EE by more than
`max_lead_m`. A bounded integral of (reference - measured EE) is added to the IK target so the
servo's steady-state sag is cancelled instead of re-added. IK always starts from the measured
joints.
"""
import dataclasses
from typing import Optional, Sequence

import numpy as np

from so101_description.model import GRIPPER_INDEX
from so101_kinematics.kinematics import WRIST_ROLL_INDEX, IKResult, Kinematics, check_joints


class EEController:
    """One arm's EE reference; call reset() at each episode start."""

    def __init__(self, kinematics: Kinematics, max_lead_m: float = 0.03,
                 integral_gain: float = 0.3, max_integral_m: float = 0.02):
        self.kinematics = kinematics
        self.max_lead_m = max_lead_m
        self.integral_gain = integral_gain
        self.max_integral_m = max_integral_m
        self.reference: Optional[np.ndarray] = None
        self.integral = np.zeros(3)
        self.wrist_roll: Optional[float] = None

    def reset(self, measured_joints: Sequence[float]) -> None:
        """Anchor the reference at the measured EE (e.g. after the IK reset)."""
        self.reference = None
        self.integral = np.zeros(3)
        self.wrist_roll = None
        if check_joints(measured_joints) is None:
            self.reference = self.kinematics.clip_to_bounds(
                self.kinematics.position(measured_joints))
            # Held at one commanded value: re-commanding the measured roll would random-walk.
            self.wrist_roll = float(self.kinematics.clip_to_limits(
                np.asarray(measured_joints, dtype=float))[WRIST_ROLL_INDEX])

    def step(self, delta_m: Sequence[float], measured_joints: Sequence[float],
             gripper_rad: Optional[float] = None) -> IKResult:
        """Joint targets for moving the EE by `delta_m` (base frame, m). A malformed or
        non-finite delta gives an INVALID_INPUT result that holds the measured joints.
        The wrist roll is held at its value from reset(); `gripper_rad` (clipped to its
        limits) replaces the gripper joint, which IK otherwise holds at its measured value."""
        if check_joints(measured_joints) is not None:
            return self.kinematics.inverse(np.zeros(3), measured_joints)
        measured_ee = self.kinematics.position(measured_joints)
        delta = np.asarray(delta_m, dtype=float)
        if self.reference is None:
            self.reset(measured_joints)
        if delta.shape != (3,) or not np.all(np.isfinite(delta)):
            result = self.kinematics.inverse(delta, measured_joints)  # INVALID_INPUT, holds
        else:
            self.integral = np.clip(
                self.integral + self.integral_gain * (self.reference - measured_ee),
                -self.max_integral_m, self.max_integral_m)
            self.reference = self._leashed(self.reference + delta, measured_ee)
            result = self.kinematics.inverse(self.reference + self.integral, measured_joints)
        joints = result.joints.copy()
        if self.wrist_roll is not None:
            joints[WRIST_ROLL_INDEX] = self.wrist_roll
        if gripper_rad is not None and np.isfinite(gripper_rad):
            joints[GRIPPER_INDEX] = np.clip(gripper_rad, self.kinematics.lower[GRIPPER_INDEX],
                                            self.kinematics.upper[GRIPPER_INDEX])
        return dataclasses.replace(result, joints=joints)

    def _leashed(self, reference: np.ndarray, measured_ee: np.ndarray) -> np.ndarray:
        reference = self.kinematics.clip_to_bounds(reference)
        lead = reference - measured_ee
        distance = float(np.linalg.norm(lead))
        if distance > self.max_lead_m:
            reference = measured_ee + lead * (self.max_lead_m / distance)
        return reference
