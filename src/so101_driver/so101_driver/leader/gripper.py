"""Leader gripper (the trigger) to follower gripper: a linear map through two points, clipped.

The leader's trigger travels a different arc than the follower's jaws; two matching points
(e.g. trigger released / jaws open, trigger squeezed / jaws closed) define the map.
"""
from typing import Sequence

import numpy as np


class GripperMapping:
    def __init__(self, leader_rad: Sequence[float], follower_rad: Sequence[float],
                 follower_limits: Sequence[float]):
        (self.a, self.b), (self.c, self.d) = leader_rad, follower_rad
        if self.a == self.b:
            raise ValueError(f'gripper_leader_rad needs two different points, got {leader_rad}')
        self.low, self.high = follower_limits

    @property
    def slope(self) -> float:
        """Follower radians per leader radian (for velocities)."""
        return (self.d - self.c) / (self.b - self.a)

    def __call__(self, leader_gripper_rad: float) -> float:
        fraction = (leader_gripper_rad - self.a) / (self.b - self.a)
        return float(np.clip(self.c + fraction * (self.d - self.c), self.low, self.high))
