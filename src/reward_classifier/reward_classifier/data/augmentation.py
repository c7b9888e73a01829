"""Training-time image augmentation: colour jitter and small shifts, per frame, in torch.

Colour jitter stands in for lighting that changes through the day (it confuses RGB
classifiers on real arms); shifts for a
camera that sits a few pixels differently after remounting. Both act on float images in [0, 1].
"""
import dataclasses

import torch
import torch.nn.functional as F


@dataclasses.dataclass(frozen=True)
class AugmentationConfig:
    brightness: float = 0.2   # multiply by U(1 - b, 1 + b)
    contrast: float = 0.2     # blend with the frame's mean grey by U(1 - c, 1 + c)
    saturation: float = 0.2   # blend with the pixel's grey by U(1 - s, 1 + s)
    shift_px: int = 4         # translate by up to this many pixels (edge pixels repeat)

    @property
    def enabled(self) -> bool:
        return any(v > 0 for v in (self.brightness, self.contrast, self.saturation,
                                   self.shift_px))


def _factors(batch: int, amount: float, generator, device) -> torch.Tensor:
    u = torch.rand(batch, 1, 1, 1, generator=generator, device=device)
    return 1.0 + amount * (2.0 * u - 1.0)


def _grey(images: torch.Tensor) -> torch.Tensor:
    weights = images.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (images * weights).sum(dim=1, keepdim=True)


def colour_jitter(images, config: AugmentationConfig, generator=None):
    """B x 3 x H x W in [0, 1] -> same shape, each frame with its own brightness, contrast and
    saturation factor."""
    batch, device = images.shape[0], images.device
    if config.brightness > 0:
        images = images * _factors(batch, config.brightness, generator, device)
    if config.contrast > 0:
        mean = _grey(images).mean(dim=(2, 3), keepdim=True)
        images = mean + (images - mean) * _factors(batch, config.contrast, generator, device)
    if config.saturation > 0:
        grey = _grey(images)
        images = grey + (images - grey) * _factors(batch, config.saturation, generator, device)
    return images.clamp(0.0, 1.0)


def random_shift(images, shift_px: int, generator=None):
    """Translate each frame by an integer offset in [-shift_px, shift_px] (replicate padding)."""
    if shift_px <= 0:
        return images
    batch, _, height, width = images.shape
    padded = F.pad(images, (shift_px,) * 4, mode='replicate')
    offsets = torch.randint(0, 2 * shift_px + 1, (batch, 2), generator=generator,
                            device=images.device)
    return torch.stack([padded[i, :, y:y + height, x:x + width]
                        for i, (y, x) in enumerate(offsets.tolist())])


def augment(images, config: AugmentationConfig, generator=None):
    return random_shift(colour_jitter(images, config, generator), config.shift_px, generator)
