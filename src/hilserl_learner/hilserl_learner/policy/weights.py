"""Policy weights on the wire: a safetensors file in memory (never a pickle) plus its sha256.

The file's metadata carries what an actor needs to rebuild the networks: the network sizes, the
image backbone's identity (a frozen backbone is not sent; the actor loads the same weights and
must arrive at the same identity), and the version.
"""
import hashlib
import json
import struct
from dataclasses import asdict
from typing import Dict, Tuple

import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

# The LearnerConfig fields that shape the policy networks.
POLICY_FIELDS = ('state_dim', 'latent_dim', 'hidden_dims', 'gripper_hidden_dims', 'encoder',
                 'encoder_weights', 'freeze_encoder', 'image_encoder_hidden_dim',
                 'spatial_features', 'image_dropout', 'image_head', 'bottleneck_channels',
                 'log_std_min', 'log_std_max')
FORMAT = 'safetensors'


class WeightsError(ValueError):
    """Weights that cannot be used: checksum mismatch, malformed file, other networks."""


def serialize_policy(state: Dict[str, torch.Tensor], config, backbone_identity: str,
                     version: int, optimization_step: int) -> Tuple[bytes, str]:
    """(safetensors bytes, sha256 hex digest) of the actor's parameters."""
    policy_config = {k: v for k, v in asdict(config).items() if k in POLICY_FIELDS}
    metadata = {'policy_config': json.dumps(policy_config), 'backbone_identity': backbone_identity,
                'version': str(version), 'optimization_step': str(optimization_step)}
    tensors = {name: t.detach().to('cpu', torch.float32).contiguous() for name, t in state.items()}
    data = save_tensors(tensors, metadata=metadata)
    return data, hashlib.sha256(data).hexdigest()


def deserialize_policy(data: bytes, sha256: str) -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
    """(tensors, metadata) of broadcast weights, after checking the checksum."""
    data = bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise WeightsError(f'policy weights checksum mismatch: got {digest[:12]}..., the message '
                           f'says {sha256[:12]}...')
    try:
        return load_tensors(data), read_metadata(data)
    except Exception as error:  # safetensors raises several types for a malformed file
        raise WeightsError(f'policy weights are not a valid safetensors file: {error}') from None


def read_metadata(data: bytes) -> Dict[str, str]:
    """The `__metadata__` of a safetensors file: u64 little-endian header size, JSON header."""
    (size,) = struct.unpack('<Q', data[:8])
    header = json.loads(data[8:8 + size])
    return header.get('__metadata__', {})


def policy_file_version(path) -> int:
    """The version in a saved policy file's metadata (its header only is read)."""
    with open(path, 'rb') as file:
        (size,) = struct.unpack('<Q', file.read(8))
        header = json.loads(file.read(size))
    return int(header.get('__metadata__', {}).get('version', -1))
