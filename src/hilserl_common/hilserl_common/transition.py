"""One environment step (s, a, r, s'), the one type the actor produces, the learner stores and
the demo loader converts recordings into (the ROS message hilserl_interfaces/Transition carries
the same fields between processes)."""
from dataclasses import dataclass
from typing import Optional

import numpy as np


@dataclass
class Transition:
    state: np.ndarray               # (state_dim,) float32: 18 proprioceptive values
    image: np.ndarray               # (128, 128, 3) uint8, the processed wrist image
    action: np.ndarray              # (3,) EE delta in [-1, 1]
    gripper_action: int             # 0 close, 1 stay, 2 open
    reward: float
    next_state: np.ndarray
    next_image: np.ndarray
    terminated: bool                # the task ended (success): no bootstrap from s'
    truncated: bool                 # time limit: the episode ends, s' is still bootstrapped
    is_intervention: bool = False   # the action is the operator's
    step_id: int = 0                # per episode, from 0
    policy_version: int = 0         # the weights version that chose the action
    gripper_penalty: float = 0.0    # set by the learner (toggle penalty)
    features: Optional[np.ndarray] = None       # backbone feature maps, when the learner caches
    next_features: Optional[np.ndarray] = None
