"""The actor's policy: uniformly random until the learner's first weights arrive, then the
learner's network, swapped between steps whenever a newer version is broadcast, except while
held: an evaluation round acts with one version throughout, and the newest broadcast that came
meanwhile is loaded when the round ends."""
import hashlib
import threading
from pathlib import Path
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
        self._lock = threading.Lock()  # the network while it acts or changes
        # Whether weights may change, and what came while they may not: taken for a whole
        # load, so a hold that starts waits for a load in progress rather than racing it.
        self._loading = threading.Lock()
        self._held = False
        self._kept: Optional[Tuple[bytes, str, int]] = None  # (data, sha256, version)
        self._loaded: Optional[bytes] = None  # the file of the weights it acts with

    def load_bytes(self, data: bytes, sha256: str, version: int) -> Optional[str]:
        """Load broadcast weights (checked against their sha256); the error, or None. While
        held, the newest are kept instead (unchecked yet) and loaded by `hold(False)`."""
        with self._loading:
            if version <= max(self.version, self._kept[2] if self._kept else 0):
                return None  # an old or repeated broadcast
            if self._held:
                self._kept = (data, sha256, version)
                return None
            return self._load(data, sha256)

    def hold(self, holding: bool) -> Optional[str]:
        """hold(True): act with the weights loaded now until hold(False), which loads the newest
        broadcast kept meanwhile; the error of that load, or None. An evaluation round holds:
        it measures one policy, not whichever versions arrived during its episodes."""
        with self._loading:
            self._held = holding
            if holding or self._kept is None:
                return None
            (data, sha256, _), self._kept = self._kept, None
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
            self._loaded = data
        return None

    def save(self, path: Path) -> bool:
        """Write the weights it acts with as a policy file (what the learner broadcast, as the
        learner saves it); False before any arrived."""
        with self._lock:
            data = self._loaded
        if data is None:
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix('.tmp')
        temporary.write_bytes(data)
        temporary.replace(path)
        return True

    def __call__(self, state: np.ndarray, image: np.ndarray,
                 deterministic: bool) -> Tuple[np.ndarray, int]:
        with self._lock:
            self.acting_version = self.version
            if self._network is None:
                return self._rng.uniform(-1.0, 1.0, 3), int(self._rng.integers(0, 3))
            return self._network.act(state, image, deterministic=deterministic)
