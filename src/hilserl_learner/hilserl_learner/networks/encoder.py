"""The image encoder of the workspace: a frozen ResNet-10 backbone and the spatial learned
embeddings that turn its 4x4 feature map into a vector. The learner's SAC networks and the
reward classifier both build on these two pieces, so both see images the same way.

Architecture (the ResNet-10 that HIL-SERL and LeRobot use, published as `helper2424/resnet10`):
  uint8 RGB 128x128 -> /255, ImageNet mean/std
  -> conv 7x7/2, 64 (no bias) -> GroupNorm(4) -> ReLU -> max-pool 3x3/2       64 x 32 x 32
  -> 4 basic residual blocks (conv3x3-GN-ReLU-conv3x3-GN + shortcut, ReLU), GroupNorm(4),
     channels 64/128/256/512, strides 1/2/2/2; a 1x1 conv + GN shortcut where channels change
  -> 512 x 4 x 4 feature map (for a 128x128 image).

Typical use (reward classifier head, SAC observation encoder):

    backbone = load_backbone('')            # frozen; '' = no pretrained weights here
    embed = SpatialLearnedEmbeddings(*backbone.feature_shape, num_features=8)
    features = backbone(images_uint8_bhwc)  # (B, 512, 4, 4), no gradient
    vector = embed(features)                # (B, 512 * 8), trainable
    record(backbone.identity)               # architecture + weights source + hash

Weights come from a local safetensors file, or a Hugging Face hub id when `huggingface_hub` is
installed and the hub is reachable. Neither is possible on the development machines, so an empty
source (or an unreachable hub) gives a fixed, seeded random initialisation and a loud warning;
`identity` says which one a model was trained with.
"""
import hashlib
import logging
import os
import warnings
from typing import Dict

import torch
from torch import nn

LOGGER = logging.getLogger(__name__)

ARCHITECTURE = 'resnet10-gn4-64.128.256.512'
CHANNELS = (64, 128, 256, 512)
NORM_GROUPS = 4
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RANDOM_INIT_SEED = 0
HUB_WEIGHTS_FILE = 'model.safetensors'
# Prefixes that checkpoints of the same network put in front of the names used here.
_KNOWN_PREFIXES = ('model.', 'resnet.', 'backbone.', 'encoder.pretrained_encoder.')


class ResidualBlock(nn.Module):
    """conv3x3-GN-ReLU-conv3x3-GN plus the (projected) input, then ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.norm1 = nn.GroupNorm(NORM_GROUPS, out_channels, eps=1e-5)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.norm2 = nn.GroupNorm(NORM_GROUPS, out_channels, eps=1e-5)
        self.shortcut = None
        if in_channels != out_channels or stride != 1:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.GroupNorm(NORM_GROUPS, out_channels, eps=1e-5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.shortcut is None else self.shortcut(x)
        y = torch.relu(self.norm1(self.conv1(x)))
        y = self.norm2(self.conv2(y))
        return torch.relu(y + identity)


class ResNet10(nn.Module):
    """The ResNet-10 trunk: normalised float images (B, 3, H, W) -> (B, 512, H/32, W/32)."""

    def __init__(self):
        super().__init__()
        self.embedder = nn.Sequential(
            nn.Conv2d(3, CHANNELS[0], 7, stride=2, padding=3, bias=False),
            nn.GroupNorm(NORM_GROUPS, CHANNELS[0], eps=1e-5),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        blocks = []
        in_channels = CHANNELS[0]
        for index, out_channels in enumerate(CHANNELS):
            blocks.append(ResidualBlock(in_channels, out_channels, stride=1 if index == 0 else 2))
            in_channels = out_channels
        self.stages = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embedder(x)
        for stage in self.stages:
            x = stage(x)
        return x


class Backbone(nn.Module):
    """A ResNet-10 that takes uint8 images as the workspace stores them (B, H, W, 3 RGB, or
    B, 3, H, W) and returns its feature map. Frozen by default: no gradients, eval mode, even
    when a parent module is put in training mode; `unfreeze()` makes it trainable."""

    def __init__(self, trunk: ResNet10, identity: str, image_size: int = 128):
        super().__init__()
        # Channels-last convolutions run about 1.5x faster on CPUs (oneDNN), and images stored
        # as (B, H, W, 3) are channels-last already.
        self.trunk = trunk.to(memory_format=torch.channels_last)
        self.identity = identity
        self.register_buffer('mean', torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer('std', torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        side = -(-image_size // 32)
        self.feature_shape = (CHANNELS[-1], side, side)  # (channels, height, width)
        self.frozen = True
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True):
        # Frozen means frozen: a parent module's .train() must not change it.
        return super().train(mode and not self.frozen)

    def unfreeze(self) -> 'Backbone':
        self.frozen = False
        self.trunk.requires_grad_(True)
        return self

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if not self.frozen:
            return self.trunk(normalise_images(images, self.mean, self.std))
        with torch.no_grad():
            return self.trunk(normalise_images(images, self.mean, self.std))


def normalise_images(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 (B, H, W, 3) or (B, 3, H, W) -> float (B, 3, H, W), ImageNet-normalised."""
    if images.dim() != 4:
        raise ValueError(f'expected a batch of images (B, H, W, 3), got shape '
                         f'{tuple(images.shape)}')
    if images.shape[-1] == 3 and images.shape[1] != 3:
        images = images.permute(0, 3, 1, 2)
    x = images.to(dtype=mean.dtype) / 255.0
    return (x - mean) / std


class SpatialLearnedEmbeddings(nn.Module):
    """Pools a (B, C, H, W) feature map with `num_features` learned H x W weightings per
    channel: out[b, c, f] = sum_hw x[b, c, h, w] * kernel[c, h, w, f], flattened to C * F.
    Unlike average pooling it keeps *where* things are, which grasping needs."""

    def __init__(self, channels: int, height: int, width: int, num_features: int = 8):
        super().__init__()
        self.kernel = nn.Parameter(torch.empty(channels, height * width, num_features))
        nn.init.kaiming_normal_(self.kernel, mode='fan_in', nonlinearity='linear')
        self.out_features = channels * num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        b, c = features.shape[:2]
        x = features.reshape(b, c, -1)  # (B, C, HW)
        # Batched over channels: (C, B, HW) @ (C, HW, F) -> (C, B, F).
        pooled = torch.bmm(x.transpose(0, 1), self.kernel.to(x.dtype))
        return pooled.transpose(0, 1).reshape(b, self.out_features)


def load_backbone(weights: str = '', seed: int = RANDOM_INIT_SEED,
                  image_size: int = 128, quiet: bool = False) -> Backbone:
    """A frozen ResNet-10 with weights from `weights`:

    - a path to a `.safetensors` file (names as in this module or as in `helper2424/resnet10`),
    - a hub id `owner/name` (needs `huggingface_hub` and a reachable hub), or
    - '' for no pretrained weights: a fixed initialisation seeded by `seed`, with a warning
      (`quiet`: none, for a backbone that is about to be trained).

    A file that does not fit the architecture raises ValueError naming the problem.
    """
    trunk = _seeded_random_trunk(seed)
    source = f'random-seed{seed}'
    if weights and os.path.exists(weights):
        _load_into(trunk, _read_safetensors(weights), weights)
        source = f'file:{os.path.basename(weights)}'
    elif weights:
        path = _download_from_hub(weights)
        if path is not None:
            _load_into(trunk, _read_safetensors(path), f'{weights} ({path})')
            source = f'hub:{weights}'
    if source.startswith('random') and not quiet:
        message = ('NO PRETRAINED ENCODER WEIGHTS: the ResNet-10 image encoder uses a fixed random '
                   f'initialisation (seed {seed}). Features are far weaker than ImageNet ones; set '
                   'the encoder weights parameter to a local resnet10 .safetensors file for real '
                   'use.')
        LOGGER.warning(message)
        warnings.warn(message, stacklevel=2)
    identity = f'{ARCHITECTURE}@{source}#sha256:{weights_digest(trunk.state_dict())[:16]}'
    return Backbone(trunk, identity, image_size)


def weights_digest(state: Dict[str, torch.Tensor]) -> str:
    """sha256 over names and float32 values, in name order: equal digests, equal weights."""
    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(name.encode())
        digest.update(state[name].detach().to(torch.float32).contiguous().cpu().numpy().tobytes())
    return digest.hexdigest()


def save_backbone_weights(backbone_or_trunk: nn.Module, path: str) -> None:
    """Write the trunk's weights as a safetensors file that `load_backbone(path)` reads."""
    from safetensors.torch import save_file
    trunk = getattr(backbone_or_trunk, 'trunk', backbone_or_trunk)
    save_file({k: v.detach().contiguous() for k, v in trunk.state_dict().items()}, path)


def _seeded_random_trunk(seed: int) -> ResNet10:
    # A private generator: the same seed gives the same encoder in every process, whatever
    # else has used the global random state before.
    generator = torch.Generator().manual_seed(seed)
    trunk = ResNet10()
    for module in trunk.modules():
        if isinstance(module, nn.Conv2d):
            fan_out = module.out_channels * module.kernel_size[0] * module.kernel_size[1]
            with torch.no_grad():
                module.weight.normal_(0.0, (2.0 / fan_out) ** 0.5, generator=generator)
        elif isinstance(module, nn.GroupNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    return trunk


def _read_safetensors(path: str) -> Dict[str, torch.Tensor]:
    from safetensors.torch import load_file
    try:
        return load_file(path)
    except Exception as error:  # safetensors raises several types for a malformed file
        raise ValueError(f'encoder weights {path} are not a readable safetensors file: '
                         f'{error}') from None


def _download_from_hub(hub_id: str):
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        LOGGER.warning('encoder weights %r look like a hub id, but huggingface_hub is not '
                       'installed', hub_id)
        return None
    try:
        return hf_hub_download(hub_id, HUB_WEIGHTS_FILE)
    except Exception as error:  # offline, unknown repository, ...
        LOGGER.warning('could not download encoder weights %r from the hub: %s', hub_id, error)
        return None


def _load_into(trunk: ResNet10, tensors: Dict[str, torch.Tensor], source: str) -> None:
    """Copy `tensors` into `trunk` by name (after dropping the prefixes and the `encoder.`
    level other implementations of the same network use); anything missing or misshapen is a
    ValueError that names it."""
    target = trunk.state_dict()
    renamed = {_canonical_name(name): tensor for name, tensor in tensors.items()
               if not name.endswith('num_batches_tracked')}
    missing = sorted(set(target) - set(renamed))
    if missing:
        raise ValueError(f'encoder weights {source}: not a ResNet-10 of this architecture; '
                         f'{len(missing)} tensors missing, e.g. {missing[:4]}; '
                         f'the file has e.g. {sorted(renamed)[:4]}')
    for name, expected in target.items():
        if tuple(renamed[name].shape) != tuple(expected.shape):
            raise ValueError(f'encoder weights {source}: {name} has shape '
                             f'{tuple(renamed[name].shape)}, the ResNet-10 needs '
                             f'{tuple(expected.shape)}')
    trunk.load_state_dict({name: renamed[name].to(torch.float32) for name in target})


def _canonical_name(name: str) -> str:
    for prefix in _KNOWN_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix):]
    return name.replace('encoder.stages.', 'stages.')
