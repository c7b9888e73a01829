"""When is the operator intervening? From the leader arm's motion and a toggle key or pedal.

With torque off, the leader stays wherever it was left while the policy moves the follower, so
distance alone would fire as soon as the policy moves. An intervention therefore starts when a
person *moves* the leader (speed above `motion_rad_s`) while it is away from the follower's pose
(more than `engage_deviation_rad` on some joint), and ends once the leader has been still for
`release_after_s`: short corrections, not takeovers, because a policy learns to take over from
brief nudges while long takeovers teach it to wait for the operator. A toggle (keyboard or foot
pedal) forces it on until toggled off.
"""
import collections
import dataclasses
from typing import Optional, Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class InterventionThresholds:
    engage_deviation_rad: float = 0.15
    motion_rad_s: float = 0.3
    release_after_s: float = 0.5
    speed_window_s: float = 0.1  # speed over this window, not one noisy 1-tick difference


class InterventionDetector:
    def __init__(self, thresholds: InterventionThresholds):
        self.thresholds = thresholds
        self.active = False
        self.toggled = False
        self._history = collections.deque()  # (t, leader positions)
        self._last_motion: Optional[float] = None

    def toggle(self) -> bool:
        self.toggled = not self.toggled
        return self.toggled

    def update(self, t: float, leader: Sequence[float],
               follower: Optional[Sequence[float]]) -> bool:
        """The flag after a new leader reading at time t (and the follower's pose, if known)."""
        leader = np.asarray(leader, dtype=float)
        moving = self._speed(t, leader) > self.thresholds.motion_rad_s
        if moving:
            self._last_motion = t
        if not self.active and moving:
            deviation = (np.inf if follower is None
                         else float(np.max(np.abs(leader - np.asarray(follower, dtype=float)))))
            self.active = deviation > self.thresholds.engage_deviation_rad
        elif self.active and t - self._last_motion > self.thresholds.release_after_s:
            self.active = False
        return self.active or self.toggled

    def reset(self) -> None:
        """The leader could not be read: no motion history, no automatic intervention."""
        self._history.clear()
        self.active = False

    def _speed(self, t: float, leader: np.ndarray) -> float:
        self._history.append((t, leader))
        window = self.thresholds.speed_window_s
        while len(self._history) > 2 and t - self._history[1][0] >= window:
            self._history.popleft()
        t0, oldest = self._history[0]
        if t - t0 <= 0:
            return 0.0
        return float(np.max(np.abs(leader - oldest))) / (t - t0)
