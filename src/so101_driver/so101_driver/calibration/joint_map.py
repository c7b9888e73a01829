"""Servo ticks <-> joint radians of the MuJoCo model, and the joint limits the arm may be sent to.

Arm joints follow LeRobot's degree normalisation, so recorded data and the model agree:
angle = (ticks - middle of the calibrated range) * 360 / 4095 degrees, zero at mid-range, which is
the MuJoCo "new calibration" model's zero. (LeRobot ignores drive_mode for these joints; so do we.)
The gripper's calibrated range maps linearly onto the model's gripper joint range
(range_min -> lower limit, range_max -> upper; reversed with drive_mode 1).
"""
import math
from typing import Dict, Sequence

import numpy as np

from so101_driver.calibration.lerobot_file import CalibrationError, MotorCalibration

TICKS_PER_RADIAN = 4095 / (2 * math.pi)  # LeRobot's resolution - 1 per turn


class JointMap:
    """Conversion for one arm, in the order of `joint_names`."""

    def __init__(self, calibration: Dict[str, MotorCalibration], joint_names: Sequence[str],
                 model_lower: Sequence[float], model_upper: Sequence[float],
                 gripper_name: str = 'gripper', source: str = 'calibration'):
        self.joint_names = tuple(joint_names)
        motors = [calibration[name] for name in self.joint_names]
        self.servo_ids = [m.id for m in motors]
        self.range_min = np.array([m.range_min for m in motors], dtype=float)
        self.range_max = np.array([m.range_max for m in motors], dtype=float)
        model_lower = np.asarray(model_lower, dtype=float)
        model_upper = np.asarray(model_upper, dtype=float)
        middle = (self.range_min + self.range_max) / 2
        # Each joint is affine: radians = offset + scale * ticks.
        self._scale = np.full(len(motors), 1 / TICKS_PER_RADIAN)
        self._offset = -middle / TICKS_PER_RADIAN
        if gripper_name in self.joint_names:
            g = self.joint_names.index(gripper_name)
            span = model_upper[g] - model_lower[g]
            scale = span / (self.range_max[g] - self.range_min[g])
            if motors[g].drive_mode:
                self._scale[g], self._offset[g] = -scale, model_upper[g] + scale * self.range_min[g]
            else:
                self._scale[g], self._offset[g] = scale, model_lower[g] - scale * self.range_min[g]
        ends = np.stack([self.to_radians(self.range_min), self.to_radians(self.range_max)])
        self.lower = np.maximum(ends.min(axis=0), model_lower)
        self.upper = np.minimum(ends.max(axis=0), model_upper)
        empty = [n for n, lo, hi in zip(self.joint_names, self.lower, self.upper) if lo >= hi]
        if empty:
            raise CalibrationError(f'{source}: the calibrated range of {", ".join(empty)} does '
                                   f'not overlap the model joint limits')

    def to_radians(self, ticks) -> np.ndarray:
        return self._offset + self._scale * np.asarray(ticks, dtype=float)

    def velocity_to_radians(self, ticks_per_s) -> np.ndarray:
        return self._scale * np.asarray(ticks_per_s, dtype=float)

    def to_ticks(self, radians) -> np.ndarray:
        """Radians to whole ticks, never outside the calibrated range."""
        ticks = np.rint((np.asarray(radians, dtype=float) - self._offset) / self._scale)
        return np.clip(ticks, self.range_min, self.range_max).astype(int)

    def clip(self, radians) -> np.ndarray:
        return np.clip(np.asarray(radians, dtype=float), self.lower, self.upper)
