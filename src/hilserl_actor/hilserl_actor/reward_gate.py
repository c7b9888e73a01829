"""The proprioceptive half of the reward: the classifier's "success" counts only when the arm's
own readings agree that the cube is held up.

An image classifier can be fooled by states that look like success (a cube held 1.5 cm up looks
like one lifted 3 cm from the wrist camera; jaws closed in front of the cube look like jaws
around it), and a policy learns to produce exactly those states. The gate uses what the real arm
also measures, never the simulation's privileged state:
  - the EE (gripperframe) height from FK of the measured joints, above `min_ee_height_m`;
  - the measured gripper position between `gripper_min_rad` and `gripper_max_rad`: jaws that
    closed on air go all the way to the closed target, jaws that hold the cube stop on it.
"""
import dataclasses

import numpy as np

from hilserl_common.config import length, param
from so101_description.model import GRIPPER_INDEX
from so101_kinematics.kinematics import Kinematics, check_joints


def _ordered_pair(value):
    return None if len(value) == 2 and value[0] < value[1] else 'two numbers, low < high'


@dataclasses.dataclass(frozen=True)
class RewardGateConfig:
    reward_gate: bool = param(True, 'a classifier success counts only when the gate agrees')
    gate_min_ee_height_m: float = param(
        0.045, 'lowest EE height (m, above the table) at which a success can count')
    gate_gripper_range_rad: list = param(
        [-0.16, 0.30], 'measured gripper position of jaws stopped on the object (rad): above '
        'where empty jaws close to, below half open', length(2, _ordered_pair))


class RewardGate:
    def __init__(self, config: RewardGateConfig, kinematics: Kinematics):
        self.config = config
        self.kinematics = kinematics

    def refusal(self, joints) -> str:
        """Why these measured joints cannot be a success ('' when they can)."""
        if not self.config.reward_gate:
            return ''
        if joints is None or check_joints(joints) is not None:
            return 'no usable joint reading'
        height = float(self.kinematics.position(joints)[2])
        if height < self.config.gate_min_ee_height_m:
            minimum = self.config.gate_min_ee_height_m
            return f'EE {height * 100:.1f} cm high (below {minimum * 100:.1f} cm)'
        low, high = self.config.gate_gripper_range_rad
        gripper = float(np.asarray(joints)[GRIPPER_INDEX])
        if not low <= gripper <= high:
            state = 'closed on nothing' if gripper < low else 'open'
            return f'gripper at {gripper:.2f} rad ({state}; holding is {low:.2f} to {high:.2f})'
        return ''
