"""The policy's action space, its mapping to the arm, and what a stored action means.

The action:
- EE motion: 3 numbers in [-1, 1]; times `action_scale` (0.02 m) they are the EE displacement
  per control step in the base frame. The actor executes it through the closed-loop EE
  controller (ee_control.EEController).
- Gripper: a discrete choice {0: close, 1: stay, 2: open}; on the arm it moves the gripper to
  fully closed or fully open.

The stored action of a step, whoever acted, is the EE motion in this action space, so one motion
is one action for the critic and for behaviour cloning:
- a policy step stores the action it chose, as executed (clipped, non-finite parts 0), which
  the EE controller realises to within its accuracy (on the simulated cell 1.7 mm median,
  3.9 mm at the 95th percentile: benchmarks/sim_kinematics.py);
- a human step (a demonstration or an intervention) stores the follower's realised EE motion
  over the step, (FK(q_next) - FK(q)) / action_scale clipped to [-1, 1] (`human_action`): the
  action that, executed through the policy's path (the EE controller) from the same state,
  reproduces what the human did. Not the leader's offset from the follower: besides the motion
  it holds the operator's lead and the servos' sag (a still arm held by the leader is 5-10 mm
  behind it in simulation), so the same motion would be stored as different actions;
- the gripper of a human step is the quantised difference between the leader's gripper and the
  measured one when the leader was read, else the follower's own change
  (`human_gripper_action`).
The actor's episode loop (hilserl_actor.episode) and the learner's demo loader
(hilserl_learner.demos.loader) both call these functions.
"""
import enum
from typing import Optional, Sequence

import numpy as np

ACTION_SCALE_M = 0.02               # default EE displacement of a full action (m)
GRIPPER_CHANGE_THRESHOLD_RAD = 0.05  # default smallest gripper joint change that counts


class GripperAction(enum.IntEnum):
    CLOSE = 0
    STAY = 1
    OPEN = 2


def _finite_or_zero(values: Sequence[float]) -> np.ndarray:
    array = np.asarray(values, dtype=float).reshape(-1)
    if array.shape != (3,):
        raise ValueError(f'expected 3 EE components, got shape {array.shape}')
    return np.where(np.isfinite(array), array, 0.0)


def ee_delta_to_action(delta_m: Sequence[float], action_scale: float = ACTION_SCALE_M
                       ) -> np.ndarray:
    """EE displacement (m, base frame) -> normalised action in [-1, 1] (clipped). Non-finite
    components become 0 (no motion)."""
    return np.clip(_finite_or_zero(delta_m) / action_scale, -1.0, 1.0)


def action_to_ee_delta(action: Sequence[float], action_scale: float = ACTION_SCALE_M
                       ) -> np.ndarray:
    """Normalised action -> EE displacement (m). The action is clipped to [-1, 1] first and
    non-finite components become 0, so the arm never moves more than `action_scale` per axis."""
    return np.clip(_finite_or_zero(action), -1.0, 1.0) * action_scale


def quantise_gripper(change_rad: float,
                     threshold_rad: float = GRIPPER_CHANGE_THRESHOLD_RAD) -> GripperAction:
    """Gripper joint change (target minus current; the joint grows as the jaws open) ->
    close / stay / open. Changes within +-threshold (and NaN) are 'stay'."""
    if not np.isfinite(change_rad) or abs(change_rad) <= threshold_rad:
        return GripperAction.STAY
    return GripperAction.OPEN if change_rad > 0 else GripperAction.CLOSE


def human_action(ee_m: Sequence[float], next_ee_m: Sequence[float],
                 action_scale: float = ACTION_SCALE_M) -> np.ndarray:
    """The stored EE action of a human step: the follower's EE motion from `ee_m` to `next_ee_m`
    (m, base frame: FK of the measured joints at the step and at the next one) in action units,
    clipped. Non-finite components become 0."""
    motion = np.asarray(next_ee_m, dtype=float) - np.asarray(ee_m, dtype=float)
    return ee_delta_to_action(motion, action_scale)


def human_gripper_action(gripper_rad: float, next_gripper_rad: float,
                         leader_gripper_rad: Optional[float] = None,
                         threshold_rad: float = GRIPPER_CHANGE_THRESHOLD_RAD) -> GripperAction:
    """The stored gripper action of a human step: what the operator asked for (leader minus
    measured gripper) when the leader was read, else what the follower's gripper did over the
    step. The leader says it at once; the follower's jaws stop on an object and lag."""
    if leader_gripper_rad is not None:
        return quantise_gripper(leader_gripper_rad - gripper_rad, threshold_rad)
    return quantise_gripper(next_gripper_rad - gripper_rad, threshold_rad)


def gripper_target(action: int, current_target_rad: float, closed_rad: float,
                   open_rad: float) -> float:
    """Gripper joint target for a discrete action: fully closed, unchanged, or fully open.
    An action outside {0, 1, 2} is 'stay'."""
    if action == GripperAction.CLOSE:
        return closed_rad
    if action == GripperAction.OPEN:
        return open_rad
    return current_target_rad
