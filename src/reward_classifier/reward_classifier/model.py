"""The success classifier: the workspace's frozen ResNet-10 (hilserl_learner.networks.encoder)
on each camera view -> 4x4 spatial learned embeddings per view, concatenated -> Linear ->
Dropout -> LayerNorm -> ReLU -> Linear(1). Views are camera names (wrist_camera, front_camera):
a fixed front camera sees how high the cube is, which the wrist camera cannot.

Only the spatial embeddings and the head train, and they do train (LeRobot's classifier ran its
spatial embeddings under no_grad, so only the head learned). A saved model holds just
those trainable weights plus a JSON description: the encoder identity (architecture, weights
source, weights digest) and the preprocessing id it was trained with, so a model is only ever run
on the encoder and pixels it was trained on.
"""
import json
from pathlib import Path
from typing import Dict, Sequence, Tuple

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from hilserl_common.preprocessing import IMAGE_SIZE, PREPROCESSING_ID
from hilserl_learner.networks.encoder import Backbone, SpatialLearnedEmbeddings, load_backbone

FORMAT = 'hilserl_reward_classifier'
FORMAT_VERSION = 2  # 2: one or more camera views
DEFAULT_VIEWS = ('wrist_camera',)
WEIGHTS_FILE = 'reward_classifier.safetensors'
CONFIG_FILE = 'reward_classifier.json'


class ModelMismatch(ValueError):
    """A saved model that does not fit this workspace's encoder or preprocessing; the message
    says which and what both sides are."""


class RewardClassifier(nn.Module):
    def __init__(self, backbone: Backbone, hidden_dim: int = 256, dropout: float = 0.1,
                 spatial_features: int = 8, views: Sequence[str] = DEFAULT_VIEWS):
        super().__init__()
        self.backbone = backbone
        self.views = tuple(views)
        channels, height, width = backbone.feature_shape
        self.view_embeddings = nn.ModuleList(
            SpatialLearnedEmbeddings(channels, height, width, spatial_features)
            for _ in self.views)
        embedded = sum(e.out_features for e in self.view_embeddings)
        self.head = nn.Sequential(
            nn.Linear(embedded, hidden_dim),
            nn.Dropout(dropout),
            nn.LayerNorm(hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, 1))
        self.architecture = {'hidden_dim': hidden_dim, 'dropout': dropout,
                             'spatial_features': spatial_features, 'views': list(self.views)}
        # Convolutions are ~40% faster on CPU with channels-last weights (the NHWC frames the
        # workspace stores are channels-last already).
        self.backbone.to(memory_format=torch.channels_last)

    @property
    def encoder_identity(self) -> str:
        return self.backbone.identity

    def encoder_features(self, images: torch.Tensor) -> torch.Tensor:
        """Frozen part: float B x V x 3 x H x W in [0, 1] -> B x V x 512 x 4 x 4 (no
        gradient); one backbone pass for all views."""
        b, v = images.shape[:2]
        features = self.backbone(images.reshape(b * v, *images.shape[2:]) * 255.0)
        return features.reshape(b, v, *features.shape[1:])

    def head_logits(self, features: torch.Tensor) -> torch.Tensor:
        """Trainable part: B x V feature maps -> B success logits."""
        embedded = [embed(features[:, i]) for i, embed in enumerate(self.view_embeddings)]
        return self.head(torch.cat(embedded, dim=-1)).squeeze(-1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head_logits(self.encoder_features(images))

    def trainable_parameters(self):
        return [p for name, p in self.named_parameters() if not name.startswith('backbone.')]

    def trainable_state_dict(self) -> Dict[str, torch.Tensor]:
        return {name: tensor.detach().contiguous() for name, tensor in self.state_dict().items()
                if not name.startswith('backbone.')}

    @torch.inference_mode()
    def predict(self, images: np.ndarray, batch_size: int = 128) -> np.ndarray:
        """Success probabilities of N x V x 128 x 128 x 3 uint8 frames (V views, in order)."""
        self.eval()
        device = next(self.parameters()).device
        return np.concatenate([
            torch.sigmoid(self(to_input(images[i:i + batch_size], device))).cpu().numpy()
            for i in range(0, len(images), batch_size)]) if len(images) else np.zeros(0)


def to_input(images: np.ndarray, device=None) -> torch.Tensor:
    """N x V x H x W x 3 uint8 frames -> float N x V x 3 x H x W in [0, 1] (a channels-last
    view)."""
    if images.ndim != 5 or images.shape[2:] != (IMAGE_SIZE, IMAGE_SIZE, 3):
        raise ValueError(f'expected N x views x {IMAGE_SIZE} x {IMAGE_SIZE} x 3 frames from the '
                         f'shared preprocessing, got shape {images.shape}')
    tensor = torch.from_numpy(np.ascontiguousarray(images)).to(device)
    return tensor.permute(0, 1, 4, 2, 3).float().div_(255.0)


def build_classifier(encoder_weights: str = '', hidden_dim: int = 256, dropout: float = 0.1,
                     spatial_features: int = 8, seed: int = 0,
                     views: Sequence[str] = DEFAULT_VIEWS) -> RewardClassifier:
    """A new classifier on the workspace's encoder; `seed` initialises the trainable parts."""
    backbone = load_backbone(encoder_weights)
    torch.manual_seed(seed)
    return RewardClassifier(backbone, hidden_dim, dropout, spatial_features, views)


def save_classifier(model: RewardClassifier, directory, threshold: float,
                    metrics: Dict, extra: Dict = None) -> Path:
    """Write the trainable weights (safetensors) and the description (JSON) into `directory`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_file(model.trainable_state_dict(), str(directory / WEIGHTS_FILE))
    description = {
        'format': FORMAT, 'format_version': FORMAT_VERSION,
        'preprocessing_id': PREPROCESSING_ID, 'image_size': IMAGE_SIZE,
        'encoder_identity': model.encoder_identity,
        'architecture': model.architecture,
        'threshold': float(threshold),
        'metrics': metrics,
        **(extra or {}),
    }
    (directory / CONFIG_FILE).write_text(json.dumps(description, indent=2) + '\n')
    return directory


def read_description(path) -> Tuple[Path, Dict]:
    """(model directory, its JSON description) for a directory or either of its two files."""
    path = Path(path)
    directory = path if path.is_dir() else path.parent
    config_path = directory / CONFIG_FILE
    try:
        description = json.loads(config_path.read_text())
    except FileNotFoundError:
        raise ModelMismatch(f'no reward classifier at {path}: {config_path} does not '
                            f'exist') from None
    except json.JSONDecodeError as error:
        raise ModelMismatch(f'{config_path} is not valid JSON: {error}') from None
    if not isinstance(description, dict) or description.get('format') != FORMAT:
        raise ModelMismatch(f'{config_path} does not describe a reward classifier '
                            f'(format {FORMAT!r})')
    return directory, description


def check_compatible(description: Dict, encoder_identity: str, where: str) -> None:
    """Raise ModelMismatch naming what differs between a saved model and this workspace."""
    if description.get('preprocessing_id') != PREPROCESSING_ID or \
            description.get('image_size') != IMAGE_SIZE:
        raise ModelMismatch(
            f'{where}: preprocessing mismatch: the model was trained on '
            f'{description.get("preprocessing_id")!r} at {description.get("image_size")} px, '
            f'this workspace uses {PREPROCESSING_ID!r} at {IMAGE_SIZE} px; retrain it')
    if description.get('encoder_identity') != encoder_identity:
        raise ModelMismatch(
            f'{where}: encoder mismatch: the model was trained on encoder '
            f'{description.get("encoder_identity")!r}, the configured encoder weights give '
            f'{encoder_identity!r}; set encoder_weights to the weights it was trained with, '
            f'or retrain it')


def load_classifier(path, encoder_weights: str = '') -> Tuple[RewardClassifier, Dict]:
    """A saved classifier on the configured encoder, in eval mode, with its description.
    Raises ModelMismatch when the model does not fit the encoder or the preprocessing."""
    directory, description = read_description(path)
    backbone = load_backbone(encoder_weights)
    check_compatible(description, backbone.identity, str(directory))
    architecture = description.get('architecture', {})
    if description.get('format_version') != FORMAT_VERSION:
        raise ModelMismatch(f'{directory}: a reward classifier of format version '
                            f'{description.get("format_version")}, this workspace reads '
                            f'{FORMAT_VERSION}; retrain it')
    model = RewardClassifier(backbone, int(architecture.get('hidden_dim', 256)),
                             float(architecture.get('dropout', 0.1)),
                             int(architecture.get('spatial_features', 8)),
                             architecture.get('views', DEFAULT_VIEWS))
    try:
        weights = load_file(str(directory / WEIGHTS_FILE))
    except Exception as error:  # safetensors raises several types for missing/corrupt files
        raise ModelMismatch(f'{directory / WEIGHTS_FILE}: cannot read weights: {error}') \
            from None
    expected = set(model.trainable_state_dict())
    if set(weights) != expected:
        raise ModelMismatch(f'{directory / WEIGHTS_FILE}: tensors do not fit the described '
                            f'architecture (missing {sorted(expected - set(weights))[:3]}, '
                            f'unexpected {sorted(set(weights) - expected)[:3]})')
    try:
        model.load_state_dict(weights, strict=False)
    except RuntimeError as error:
        raise ModelMismatch(f'{directory / WEIGHTS_FILE}: {error}') from None
    model.eval()
    return model, description
