"""Safe goals: inside the calibrated joint limits, and no faster than a per-joint speed.

The driver moves its written goal toward the commanded target by at most `max_speed * dt` per
cycle, so a far or sudden command (a bug, a jump in the operator's leader arm) becomes a bounded
motion instead of a slam.
"""
from typing import Optional, Sequence

import numpy as np


class GoalLimiter:
    def __init__(self, lower: Sequence[float], upper: Sequence[float],
                 max_speed_rad_s: Sequence[float]):
        self.lower = np.asarray(lower, dtype=float)
        self.upper = np.asarray(upper, dtype=float)
        self.max_speed = np.asarray(max_speed_rad_s, dtype=float)
        if not (self.lower.shape == self.upper.shape == self.max_speed.shape):
            raise ValueError('limits and speeds must have one value per joint')
        self.goal: Optional[np.ndarray] = None

    def reset(self, position: Sequence[float]) -> None:
        """Start from where the arm is (torque on, reconnect, stop)."""
        self.goal = np.clip(np.asarray(position, dtype=float), self.lower, self.upper)

    def step(self, target: Sequence[float], dt: float) -> np.ndarray:
        """The next goal toward `target`: clipped to the limits, at most max_speed * dt away."""
        target = np.asarray(target, dtype=float)
        if target.shape != self.lower.shape or not np.all(np.isfinite(target)):
            raise ValueError(f'target must be {self.lower.size} finite numbers, got {target}')
        if self.goal is None:
            raise RuntimeError('GoalLimiter.step before reset: the arm position is unknown')
        target = np.clip(target, self.lower, self.upper)
        max_step = self.max_speed * max(dt, 0.0)
        self.goal = np.clip(self.goal + np.clip(target - self.goal, -max_step, max_step),
                            self.lower, self.upper)
        return self.goal.copy()
