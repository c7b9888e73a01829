"""Checks every transition an actor sends before the learner stores it.

A transition is refused (`InvalidTransition`, with the reason) when a shape is wrong, a value is
not finite, an action is out of range, or its episode/step ids contradict what that actor sent
before. Nothing here imports ROS: the node converts the message to plain values first.
"""
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import numpy as np

from hilserl_learner.config import ACTION_DIM, GRIPPER_ACTIONS, IMAGE_SHAPE, STATE_DIM
from hilserl_learner.replay.buffer import Transition

ACTION_TOLERANCE = 1e-3  # float32 round trip of a value clipped to [-1, 1]
GRIPPER_CLOSE, GRIPPER_STAY, GRIPPER_OPEN = 0, 1, 2


class InvalidTransition(ValueError):
    """A transition that must not reach the replay buffer; the message says why."""


def check_transition(state, image, action, gripper_action, reward, next_state, next_image,
                     terminated: bool, truncated: bool, is_intervention: bool,
                     state_dim: int = STATE_DIM) -> Transition:
    """A Transition of checked numpy arrays, or InvalidTransition naming the problem."""
    state = _vector('state', state, state_dim)
    next_state = _vector('next_state', next_state, state_dim)
    action = _vector('action', action, ACTION_DIM)
    if np.any(np.abs(action) > 1.0 + ACTION_TOLERANCE):
        raise InvalidTransition(f'action {action.tolist()} is outside [-1, 1]')
    action = np.clip(action, -1.0, 1.0)
    if int(gripper_action) not in range(GRIPPER_ACTIONS):
        raise InvalidTransition(f'gripper_action {gripper_action} is not 0, 1 or 2')
    if not np.isfinite(reward):
        raise InvalidTransition(f'reward {reward} is not finite')
    for name, img in (('image', image), ('next_image', next_image)):
        if img is None or tuple(img.shape) != IMAGE_SHAPE or img.dtype != np.uint8:
            shape = None if img is None else tuple(img.shape)
            raise InvalidTransition(f'{name} has shape {shape}, expected {IMAGE_SHAPE} uint8 '
                                    f'(the shared 128x128 preprocessing)')
    if terminated and truncated:
        # A success on the last step: the task ended, so no bootstrap (termination wins).
        truncated = False
    return Transition(state=state, image=image, action=action.astype(np.float32),
                      gripper_action=int(gripper_action), reward=float(reward),
                      next_state=next_state, next_image=next_image,
                      terminated=bool(terminated), truncated=bool(truncated),
                      is_intervention=bool(is_intervention))


def _vector(name: str, values, size: int) -> np.ndarray:
    array = np.asarray(values, dtype=np.float32).reshape(-1)
    if array.size != size:
        raise InvalidTransition(f'{name} has {array.size} values, expected {size}')
    if not np.all(np.isfinite(array)):
        raise InvalidTransition(f'{name} has non-finite values: {array.tolist()}')
    return array


@dataclass
class _ActorEpisode:
    episode_id: int
    last_step: int
    ended: bool


class EpisodeBook:
    """Per actor: which episode is running and which step came last. Refuses steps of an
    episode that already ended, repeated or older steps, and episode ids that go backwards.
    Step 0 always starts an episode: an actor that restarted (a crash, a replacement with the
    same actor_id) numbers on from the episodes its run wrote, so it reuses the id of the
    episode it died in, or restarts its numbering. The dead actor's half episode stays as it
    was received (its steps are valid transitions; nothing after them comes)."""

    def __init__(self):
        self._actors: Dict[str, _ActorEpisode] = {}
        self.lost_steps = 0

    def admit(self, actor_id: str, episode_id: int, step_id: int, ends: bool) -> Optional[str]:
        """None when the step fits (and it is recorded), else why it does not."""
        current = self._actors.get(actor_id)
        if step_id == 0:
            pass  # a new episode, or a restarted actor's first one
        elif current is not None and episode_id == current.episode_id:
            if current.ended:
                return f'actor {actor_id!r} episode {episode_id} already ended'
            if step_id <= current.last_step:
                return (f'actor {actor_id!r} episode {episode_id} step {step_id} repeats or '
                        f'precedes step {current.last_step}')
            self.lost_steps += step_id - current.last_step - 1
        elif current is not None and episode_id < current.episode_id:
            return (f'actor {actor_id!r} episode {episode_id} is older than its current '
                    f'episode {current.episode_id}')
        else:
            self.lost_steps += step_id  # its first steps never came
        self._actors[actor_id] = _ActorEpisode(episode_id, step_id, ends)
        return None


class GripperTogglePenalty:
    """HIL-SERL's penalty on gripper toggles: a close command after an open one (or the other
    way round) costs `penalty` in the gripper critic's reward; repeating the current command or
    'stay' is free. Every episode starts with the gripper open (the reset pose), also when
    a restarted actor reuses the id of the episode it died in (`first_step`)."""

    def __init__(self, penalty: float):
        self.penalty = penalty
        self._last: Dict[Tuple[str, int], int] = {}

    def __call__(self, actor_id: str, episode_id: int, gripper_action: int,
                 first_step: bool = False) -> float:
        key = (actor_id, episode_id)
        last = GRIPPER_OPEN if first_step else self._last.get(key, GRIPPER_OPEN)
        if len(self._last) > 1000:  # forget long-finished episodes
            self._last = {k: v for k, v in self._last.items() if k[0] != actor_id or
                          k[1] >= episode_id}
        if gripper_action == GRIPPER_STAY:
            self._last[key] = last
            return 0.0
        self._last[key] = gripper_action
        return self.penalty if gripper_action != last else 0.0
