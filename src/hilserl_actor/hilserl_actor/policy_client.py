"""The actor's policy: uniformly random until the learner's first weights arrive, then the
learner's network, swapped between steps whenever a newer version is broadcast."""
import hashlib
import threading
from typing import Optional, Tuple

import numpy as np
import torch

from hilserl_learner.policy.policy import Policy
from hilserl_learner.policy.weights import WeightsError


class PolicyClient:
    def __init__(self, seed: int, device: str = 'cpu', threads: int = 1):
        self.device = device
        torch.set_num_threads(threads)  # for the whole process: only the policy uses torch
        self.version = 0
        self.acting_version = 0  # the version of the last call's weights
        self._rng = np.random.default_rng(seed)
        self._network = None
        self._lock = threading.Lock()

    def load_bytes(self, data: bytes, sha256: str, version: int) -> Optional[str]:
        """Load broadcast weights (checked against their sha256); the error, or None."""
        if version <= self.version:
            return None  # an old or repeated broadcast
        return self._load(data, sha256)

    def load_file(self, path: str) -> Optional[str]:
        """Load a policy the learner saved (the same safetensors bytes it broadcasts)."""
        try:
            with open(path, 'rb') as stream:
                data = stream.read()
        except OSError as error:
            return f'cannot read it: {error.strerror}'
        return self._load(data, hashlib.sha256(data).hexdigest())

    def _load(self, data: bytes, sha256: str) -> Optional[str]:
        try:
            if self._network is None:
                # Built once from the first weights (their metadata describes the networks);
                # later versions are copied into it.
                network = Policy.from_weights(data, sha256, device=self.device)
            else:
                network = self._network
                with self._lock:
                    network.load_weights(data, sha256)
        except WeightsError as error:
            return str(error)
        with self._lock:
            self._network, self.version = network, max(int(network.version), 1)
        return None

    def __call__(self, state: np.ndarray, image: np.ndarray,
                 deterministic: bool) -> Tuple[np.ndarray, int]:
        with self._lock:
            self.acting_version = self.version
            if self._network is None:
                return self._rng.uniform(-1.0, 1.0, 3), int(self._rng.integers(0, 3))
            return self._network.act(state, image, deterministic=deterministic)
