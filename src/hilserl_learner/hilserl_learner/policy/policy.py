"""The policy an actor runs: built from broadcast weights, it maps one observation (18-dim
state, 128x128x3 uint8 image) to an EE action in [-1, 1]^3 and a gripper command.

Plain Python and PyTorch (no ROS): the actor node calls `Policy.from_weights` on the first
PolicyWeights message and `load_weights` on the following ones. On a CPU shared with other
processes, give torch one thread (`torch.set_num_threads(1)`): OpenMP threads that wait for
each other on a busy machine make one inference tens of times slower.
"""
import hashlib
import json
import time
from pathlib import Path
from typing import Optional, Tuple

import numpy as np
import torch

from hilserl_learner.config import ACTION_DIM, GRIPPER_ACTIONS, config_from
from hilserl_learner.networks.actor_critic import (
    Actor,
    GripperCritic,
    ObservationEncoder,
    build_backbone,
)
from hilserl_learner.policy.weights import WeightsError, deserialize_policy


class Policy:
    def __init__(self, config, backbone: Optional[torch.nn.Module] = None,
                 device: str = 'cpu'):
        self.config = config
        self.device = torch.device(device)
        backbone = backbone if backbone is not None else build_backbone(config)
        frozen = not any(p.requires_grad for p in backbone.parameters())
        self.backbone_identity = backbone.identity
        self.encoder = ObservationEncoder(backbone, config.state_dim, config.latent_dim,
                                          config.spatial_features, frozen, config.image_dropout,
                                          image_head=config.image_head,
                                          bottleneck_channels=config.bottleneck_channels)
        latent = self.encoder.out_features
        self.actor = Actor(latent, config.hidden_dims, ACTION_DIM, config.log_std_min,
                           config.log_std_max)
        self.gripper_critic = GripperCritic(latent, config.gripper_hidden_dims, GRIPPER_ACTIONS)
        self.modules = torch.nn.ModuleDict({'encoder': self.encoder, 'actor': self.actor,
                                            'gripper_critic': self.gripper_critic})
        self.modules.to(self.device).eval().requires_grad_(False)
        self._prepared = None
        self.version = 0
        self.optimization_step = 0
        self.load_seconds = 0.0

    @classmethod
    def from_weights(cls, data: bytes, sha256: str, backbone=None, device: str = 'cpu'):
        """A policy built from broadcast weights (their metadata says which networks)."""
        tensors, metadata = deserialize_policy(data, sha256)
        try:
            config = config_from(json.loads(metadata['policy_config']), 'policy weights')
        except (KeyError, ValueError) as error:
            raise WeightsError(
                f'policy weights carry no usable network description: {error}') from error
        policy = cls(config, backbone, device)
        policy._load(tensors, metadata)
        return policy

    @classmethod
    def from_file(cls, path: str, backbone=None, device: str = 'cpu'):
        """A policy saved by the learner (`<run_dir>/policy.safetensors`); checked against the
        `.sha256` file next to it when there is one."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as error:
            raise WeightsError(f'cannot read policy file {path}: {error}') from None
        checksum = path.with_name(path.name + '.sha256')
        digest = (checksum.read_text().strip() if checksum.exists()
                  else hashlib.sha256(data).hexdigest())
        return cls.from_weights(data, digest, backbone, device)

    def load_weights(self, data: bytes, sha256: str) -> None:
        """Replace the weights with newer broadcast ones (same networks)."""
        tensors, metadata = deserialize_policy(data, sha256)
        self._load(tensors, metadata)

    def _load(self, tensors, metadata) -> None:
        start = time.perf_counter()
        identity = metadata.get('backbone_identity', '')
        if identity and identity != self.backbone_identity and self.encoder.frozen_backbone:
            raise WeightsError(f'the learner trained with image backbone {identity}, this actor '
                               f'has {self.backbone_identity}: load the same encoder weights')
        expected = set(self._state_names())
        missing, unexpected = expected - set(tensors), set(tensors) - expected
        if missing or unexpected:
            raise WeightsError(f'policy weights do not fit the networks: missing '
                               f'{sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]}')
        with torch.no_grad():
            own = self.modules.state_dict()
            for name, tensor in tensors.items():
                own[name].copy_(tensor)
        # What the image head can prepare only changes with the weights: once per load.
        self._prepared = self.encoder.prepare()
        self.version = int(metadata.get('version', 0))
        self.optimization_step = int(metadata.get('optimization_step', 0))
        self.load_seconds = time.perf_counter() - start

    def _state_names(self):
        return [name for name in self.modules.state_dict()
                if not (self.encoder.frozen_backbone and name.startswith('encoder.backbone.'))]

    @torch.no_grad()
    def act(self, state: np.ndarray, image: np.ndarray, deterministic: bool = False
            ) -> Tuple[np.ndarray, int]:
        """(EE action in [-1, 1]^3, gripper command 0/1/2) for one observation. Deterministic
        is the evaluation mode (tanh of the mean); the gripper is always the greedy command."""
        state_t = torch.as_tensor(np.asarray(state, np.float32).reshape(1, self.config.state_dim),
                                  device=self.device)
        image_t = torch.as_tensor(np.ascontiguousarray(image)[None], device=self.device)
        latent = self.encoder(state_t, image=image_t, prepared=self._prepared)
        action, _ = self.actor(latent, deterministic=deterministic)
        gripper = int(self.gripper_critic(latent).argmax(dim=-1).item())
        return action[0].cpu().numpy().astype(np.float32), gripper
