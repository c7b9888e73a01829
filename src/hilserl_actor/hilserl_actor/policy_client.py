"""The actor's policy: uniformly random until the learner's first weights arrive, then the
learner's network, swapped between steps whenever a newer version is broadcast."""
import threading
from typing import Optional, Tuple

import numpy as np

from hilserl_interfaces.msg import PolicyWeights


class PolicyClient:
    def __init__(self, seed: int, device: str = 'cpu'):
        self.device = device
        self.version = 0
        self._rng = np.random.default_rng(seed)
        self._network = None
        self._lock = threading.Lock()

    def load(self, msg: PolicyWeights) -> Optional[str]:
        """Load broadcast weights (checked against their sha256); the error, or None."""
        if msg.version <= self.version:
            return None  # an old or repeated broadcast
        from hilserl_learner.policy import PolicyWeightsError, load_policy
        try:
            network = load_policy(bytes(msg.data), msg.sha256, msg.format, device=self.device)
        except PolicyWeightsError as error:
            return str(error)
        with self._lock:
            self._network, self.version = network, int(msg.version)
        return None

    def __call__(self, state: np.ndarray, image: np.ndarray,
                 deterministic: bool) -> Tuple[np.ndarray, int]:
        with self._lock:
            network = self._network
        if network is None:
            return self._rng.uniform(-1.0, 1.0, 3), int(self._rng.integers(0, 3))
        return network.act(state, image, deterministic=deterministic)
