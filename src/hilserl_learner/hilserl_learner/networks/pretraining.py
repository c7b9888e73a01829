"""Pretraining the ResNet-10 backbone on labelled frames, for when no pretrained weights exist.

A fixed random ResNet-10 gives weak features: from them a few thousand critic updates could not
tell where the cube is. Trained to predict what a frame shows (where the cube is relative to the
gripper, how high it is, the jaws' opening, contact and grasp; so101_sim.privileged_frames
makes such frames in simulation), the backbone's feature map encodes exactly that, and it is then
frozen as usual. The result is a weights file that `load_backbone` reads like any other.
On the real arm, load ImageNet ResNet-10 weights instead: this is a simulation-only aid.
"""
import time
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from torch import nn

from hilserl_learner.networks.encoder import Backbone, SpatialLearnedEmbeddings, load_backbone


class LabelHead(nn.Module):
    """Feature map -> spatial learned embeddings -> MLP -> one output per label."""

    def __init__(self, feature_shape, outputs: int, hidden: int = 256, features: int = 8):
        super().__init__()
        self.spatial = SpatialLearnedEmbeddings(*feature_shape, num_features=features)
        self.mlp = nn.Sequential(nn.Linear(self.spatial.out_features, hidden),
                                 nn.LayerNorm(hidden), nn.ReLU(), nn.Linear(hidden, outputs))

    def forward(self, feature_map: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.spatial(feature_map.float()))


def pretrain_backbone(images: np.ndarray, labels: np.ndarray, flags: Sequence[bool],
                      epochs: float = 3.0, batch_size: int = 64, learning_rate: float = 1e-3,
                      validation_fraction: float = 0.1, seed: int = 0,
                      log: Callable[[str], None] = print,
                      report: Optional[dict] = None) -> Backbone:
    """Train a ResNet-10 (from its seeded initialisation) and a label head on `images`
    (N, 128, 128, 3) uint8 and `labels` (N, L): squared error on values, cross-entropy where
    `flags[l]` (0/1 labels). Returns the backbone, frozen again. Runs in bfloat16 where the
    CPU or GPU has fast units for it (autocast), float32 elsewhere. `report` (a dict) gets
    the steps, the held-out figures and the time taken."""
    torch.manual_seed(seed)
    backbone = load_backbone('', seed=seed, quiet=True).unfreeze()
    head = LabelHead(backbone.feature_shape, labels.shape[1])
    flags = torch.tensor(list(flags), dtype=torch.bool)
    parameters = list(backbone.parameters()) + list(head.parameters())
    optimiser = torch.optim.AdamW(parameters, lr=learning_rate, weight_decay=1e-4)
    order = np.random.default_rng(seed).permutation(len(images))
    held = max(1, int(len(images) * validation_fraction))
    validation, train = order[:held], order[held:]
    steps = max(1, int(epochs * len(train) / batch_size))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, learning_rate, total_steps=steps)
    rng = np.random.default_rng(seed + 1)
    started = time.monotonic()
    for step in range(steps):
        batch = rng.choice(train, batch_size, replace=False)
        loss = _loss(backbone, head, images[batch], labels[batch], flags, train=True)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(parameters, 5.0)
        optimiser.step()
        schedule.step()
        if (step + 1) % max(1, steps // 10) == 0 or step + 1 == steps:
            held_out = evaluate(backbone, head, images[validation], labels[validation], flags)
            log(f'encoder pretraining: step {step + 1}/{steps}, loss {loss.item():.4f}, '
                f'held out: {held_out}, {time.monotonic() - started:.0f} s')
    if report is not None:
        report.update({'train_steps': steps, 'batch_size': batch_size, 'held_out': held_out,
                       'held_out_frames': int(held), 'training_s': round(
                           time.monotonic() - started, 1)})
    backbone.frozen = True
    backbone.requires_grad_(False)
    return backbone.eval()


def _loss(backbone, head, images, labels, flags, train: bool) -> torch.Tensor:
    backbone.train(train)
    head.train(train)
    x = torch.from_numpy(np.ascontiguousarray(images))
    y = torch.from_numpy(np.ascontiguousarray(labels))
    with torch.autocast('cpu', dtype=torch.bfloat16, enabled=_fast_bf16()):
        predicted = head(backbone(x)).float()
    values = nn.functional.mse_loss(predicted[:, ~flags], y[:, ~flags])
    if not flags.any():
        return values
    return values + nn.functional.binary_cross_entropy_with_logits(predicted[:, flags],
                                                                   y[:, flags])


@torch.no_grad()
def evaluate(backbone, head, images, labels, flags, batch_size: int = 128) -> str:
    """Mean absolute error of the values and accuracy of the flags on held-out frames."""
    backbone.eval()
    head.eval()
    outputs = []
    for start in range(0, len(images), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(images[start:start + batch_size]))
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=_fast_bf16()):
            outputs.append(head(backbone(x)).float())
    predicted, y = torch.cat(outputs), torch.from_numpy(labels)
    error = (predicted[:, ~flags] - y[:, ~flags]).abs().mean().item()
    accuracy = ((predicted[:, flags] > 0) == (y[:, flags] > 0.5)).float().mean().item()
    return f'value error {error:.3f}, flag accuracy {accuracy:.3f}'


def _fast_bf16() -> bool:
    from hilserl_learner.sac.agent import cpu_has_amx_bf16
    return cpu_has_amx_bf16()
