"""The policy's action space and its mapping to and from the arm (used by the actor and by the
learner's demo loader, so both always agree).

- EE motion: 3 numbers in [-1, 1]; times `action_scale` (0.02 m) they are the EE displacement
  per control step in the base frame. Demonstrations are converted the other way: the EE delta
  between leader FK and follower FK (or consecutive follower FKs), divided by `action_scale`
  and clipped.
- Gripper: a discrete choice {0: close, 1: stay, 2: open}. From a demonstration it is the
  quantised change of the gripper joint; on the arm it moves the gripper to fully closed or open.
"""
import enum
from typing import Sequence

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


def gripper_target(action: int, current_target_rad: float, closed_rad: float,
                   open_rad: float) -> float:
    """Gripper joint target for a discrete action: fully closed, unchanged, or fully open.
    An action outside {0, 1, 2} is 'stay'."""
    if action == GripperAction.CLOSE:
        return closed_rad
    if action == GripperAction.OPEN:
        return open_rad
    return current_target_rad
