"""Position readings no servo of this arm can have given, to be dropped rather than used.

A reading is implausible when it lies outside the joint's calibrated range (by more than the give
of a joint pushed against its end stop), or farther from the joint's last accepted reading than
the joint can move in the time between. Such a reading is a reply taken for the wrong request or
servo, or bytes damaged past the checksum; publishing it would show the arm somewhere it is not,
and holding the arm there (stop, torque on) would move it.
"""
from typing import Optional, Sequence

import numpy as np

# Calibration records the extremes a joint reached; backlash and a push against the end stop can
# go a little past them (100 ticks is 8.8 degrees).
RANGE_MARGIN_TICKS = 100
# Rounding and the servo's own jitter between two readings taken at almost the same time.
JITTER_TICKS = 8


class PlausibilityFilter:
    def __init__(self, range_min: Sequence[float], range_max: Sequence[float],
                 max_speed_ticks_s: float):
        self.low = np.asarray(range_min, dtype=float) - RANGE_MARGIN_TICKS
        self.high = np.asarray(range_max, dtype=float) + RANGE_MARGIN_TICKS
        if max_speed_ticks_s <= 0:
            raise ValueError(f'max_speed_ticks_s must be positive, got {max_speed_ticks_s}')
        self.max_speed = float(max_speed_ticks_s)
        self._last: Optional[np.ndarray] = None  # ticks of the last accepted reading per joint
        self._last_time = np.zeros(len(self.low))

    def plausible(self, joint: int, ticks: int, now: float) -> bool:
        if not self.low[joint] <= ticks <= self.high[joint]:
            return False
        if self._last is None:
            return True
        reach = self.max_speed * max(now - self._last_time[joint], 0.0) + JITTER_TICKS
        return abs(ticks - self._last[joint]) <= reach

    def accept(self, ticks: Sequence[int], now: float) -> None:
        """Remember a full reading of the arm that is being used."""
        self._last = np.asarray(ticks, dtype=float)
        self._last_time[:] = now

    def out_of_range(self, ticks: Sequence[int]):
        """(joint index, ticks) of the readings outside the calibrated range."""
        return [(k, t) for k, t in enumerate(ticks) if not self.low[k] <= t <= self.high[k]]
