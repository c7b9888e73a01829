"""Ring replay buffers of (s, a, r, s') with uint8 images, and RLPD's mixed online/demo batch.

Every transition stores its own next observation (state, image and, when the backbone is frozen,
its feature map), so the observation after the last step of an episode is that episode's final
observation, never the first one of the next episode. `terminated` (no bootstrap) and
`truncated` (time limit: bootstrap) are kept apart.
"""
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from hilserl_common.transition import Transition
from hilserl_learner.config import ACTION_DIM, IMAGE_SHAPE, STATE_DIM

# Field name -> (per-transition shape, dtype). Images and feature maps come on top.
SCALAR_FIELDS = {
    'state': ((STATE_DIM,), np.float32),
    'next_state': ((STATE_DIM,), np.float32),
    'action': ((ACTION_DIM,), np.float32),
    'gripper_action': ((), np.uint8),
    'reward': ((), np.float32),
    'gripper_penalty': ((), np.float32),
    'terminated': ((), np.bool_),
    'truncated': ((), np.bool_),
    'is_intervention': ((), np.bool_),
}
IMAGE_FIELDS = ('image', 'next_image')
FEATURE_FIELDS = ('features', 'next_features')
# Feature maps of a frozen backbone are stored as bfloat16 bit patterns (numpy has no bfloat16):
# half the memory of float32, and torch reads them without a conversion pass (bf16 updates) or
# with a cheap one (fp32 updates). See sac.agent.batch_to_tensors.
FEATURE_DTYPE = np.uint16


def stack(transitions: Sequence[Transition]) -> Dict[str, np.ndarray]:
    """A list of transitions as a dict of arrays with a leading batch dimension."""
    columns = {name: np.asarray([getattr(t, name) for t in transitions], dtype=dtype)
               for name, (_, dtype) in SCALAR_FIELDS.items()}
    for name in IMAGE_FIELDS:
        columns[name] = np.stack([getattr(t, name) for t in transitions]).astype(np.uint8)
    if transitions and transitions[0].features is not None:
        for name in FEATURE_FIELDS:
            columns[name] = np.stack([getattr(t, name) for t in transitions]).astype(FEATURE_DTYPE)
    return columns


class ReplayBuffer:
    """A fixed-capacity ring of transitions; the oldest are overwritten first."""

    def __init__(self, capacity: int, feature_shape: Optional[Tuple[int, ...]] = None,
                 image_shape: Tuple[int, ...] = IMAGE_SHAPE, store_images: bool = True,
                 state_dim: int = STATE_DIM):
        """`feature_shape`: also keep backbone feature maps. `store_images=False` (sensible only
        with features: updates then never read images) keeps a quarter of the memory; the
        journal on disk still has the images."""
        self.capacity = capacity
        self.feature_shape = tuple(feature_shape) if feature_shape else None
        if not store_images and not self.feature_shape:
            raise ValueError('a replay buffer without images needs feature maps')
        shapes = {**{name: shape for name, (shape, _) in SCALAR_FIELDS.items()},
                  'state': (state_dim,), 'next_state': (state_dim,)}
        self.data = {name: np.zeros((capacity,) + shapes[name], dtype)
                     for name, (_, dtype) in SCALAR_FIELDS.items()}
        for name in IMAGE_FIELDS if store_images else ():
            self.data[name] = np.zeros((capacity,) + tuple(image_shape), np.uint8)
        if self.feature_shape:
            for name in FEATURE_FIELDS:
                self.data[name] = np.zeros((capacity,) + self.feature_shape, FEATURE_DTYPE)
        self.size = 0
        self.total_added = 0  # every transition ever added; position = total_added % capacity

    def __len__(self) -> int:
        return self.size

    def add(self, columns: Dict[str, np.ndarray]) -> None:
        """Append a batch (dict of arrays, as from `stack`)."""
        n = len(columns['reward'])
        if n == 0:
            return
        if self.feature_shape and 'features' not in columns:
            raise ValueError('this buffer stores backbone features; the batch has none')
        if n > self.capacity:  # only the newest `capacity` survive anyway
            columns = {k: v[-self.capacity:] for k, v in columns.items()}
            self.total_added += n - self.capacity
            n = self.capacity
        positions = (self.total_added + np.arange(n)) % self.capacity
        for name, array in self.data.items():
            array[positions] = columns[name]
        self.total_added += n
        self.size = min(self.size + n, self.capacity)

    def sample_indices(self, n: int, rng: np.random.Generator) -> np.ndarray:
        if self.size == 0:
            raise ValueError('cannot sample from an empty replay buffer')
        return rng.integers(0, self.size, size=n)

    def gather(self, indices: np.ndarray, fields: Sequence[str]) -> Dict[str, np.ndarray]:
        return {name: self.data[name][indices] for name in fields}

    def gather_into(self, indices: np.ndarray, batch: Dict[str, np.ndarray], start: int) -> None:
        """The rows at `indices` (sampled, so in range) into every array of `batch`, from row
        `start` on."""
        for name, out in batch.items():
            # mode='clip' writes into `out` directly ('raise' would copy through a buffer)
            np.take(self.data[name], indices, axis=0, out=out[start:start + len(indices)],
                    mode='clip')

    def newest(self, n: int) -> Dict[str, np.ndarray]:
        """The `n` most recent transitions, oldest first (for journals and tests)."""
        n = min(n, self.size)
        positions = (self.total_added - n + np.arange(n)) % self.capacity
        return {name: array[positions] for name, array in self.data.items()}

    def bytes_per_transition(self) -> int:
        return sum(array[0].nbytes for array in self.data.values())


def training_fields(cached_features: bool) -> Tuple[str, ...]:
    """What an update reads: feature maps when they are cached, otherwise the images."""
    return tuple(SCALAR_FIELDS) + (FEATURE_FIELDS if cached_features else IMAGE_FIELDS)


def sample_mixed(online: ReplayBuffer, demo: ReplayBuffer, batch_size: int, demo_ratio: float,
                 rng: np.random.Generator, fields: Sequence[str]) -> Dict[str, np.ndarray]:
    """RLPD's batch: `demo_ratio` of it from the demo buffer, the rest from the online one
    (all from whichever is not empty when the other is). Demo rows come first."""
    n_demo = int(round(batch_size * demo_ratio)) if len(demo) else 0
    if len(online) == 0:
        n_demo = batch_size
    n_online = batch_size - n_demo
    parts = [(buffer, buffer.sample_indices(n, rng))
             for buffer, n in ((demo, n_demo), (online, n_online)) if n]
    # Each buffer's rows go straight to their place in the batch: gathering the parts and
    # concatenating them copied the batch twice (its feature maps are 8 MB; 1 ms of a 55 ms
    # update on an AVX2 core).
    first = parts[0][0].data
    batch = {name: np.empty((batch_size,) + first[name].shape[1:], first[name].dtype)
             for name in fields}
    start = 0
    for buffer, indices in parts:
        buffer.gather_into(indices, batch, start)
        start += len(indices)
    return batch
