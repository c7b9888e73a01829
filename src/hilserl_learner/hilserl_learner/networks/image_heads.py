"""Image heads of the observation encoder: a backbone feature map -> a vector of `latent_dim`,
before the encoder's LayerNorm and tanh. Each head also says how it wants the backbone's map
laid out (`from_backbone`, `feature_shape`: what the replay buffer stores) and what two calls
of one update can share (`prepare`)."""
import math
from typing import Optional

import torch
from torch import nn

from hilserl_learner.networks.encoder import SpatialLearnedEmbeddings


class SpatialEmbeddingHead(nn.Module):
    """HIL-SERL's image head: spatial learned embeddings (per channel, `features` learned
    weightings of the cells) -> dropout -> Linear(latent). Without dropout, embeddings and
    projection are one linear map of the feature map (`prepare`), applied as one large matmul
    instead of C tiny ones (several times faster on CPUs; equal up to float rounding)."""

    def __init__(self, feature_shape, latent_dim: int, features: int, dropout: float,
                 matmul_dtype: torch.dtype):
        super().__init__()
        channels, height, width = feature_shape
        self.spatial = SpatialLearnedEmbeddings(channels, height, width, features)
        self.dropout = nn.Dropout(dropout)
        # Linear(C * F -> latent) on the embeddings, its weight kept as (C, F, latent) so that
        # `mixing()` needs no transposes; nn.Linear's initialisation.
        bound = 1.0 / math.sqrt(self.spatial.out_features)
        self.projection_weight = nn.Parameter(
            torch.empty(channels, features, latent_dim).uniform_(-bound, bound))
        self.projection_bias = nn.Parameter(torch.empty(latent_dim).uniform_(-bound, bound))
        self.latent_dim = latent_dim
        self.matmul_dtype = matmul_dtype
        self.feature_shape = tuple(feature_shape)  # the backbone's (C, H, W)

    def from_backbone(self, feature_map: torch.Tensor) -> torch.Tensor:
        """The backbone's (B, C, H, W) map as this head reads it: as it is."""
        return feature_map

    def prepare(self) -> Optional[torch.Tensor]:
        """What two calls within one update can share: the combined map, when it is used."""
        return self.mixing() if self.dropout.p == 0 or not self.training else None

    def pair(self, other: 'SpatialEmbeddingHead', features: torch.Tensor,
             prepared: Optional[torch.Tensor] = None):
        """(this head's, `other`'s) outputs for the same feature maps: two calls (stacking two
        combined maps would copy more than it saves)."""
        return self(features, prepared), other(features)

    def forward(self, features: torch.Tensor, prepared: Optional[torch.Tensor] = None):
        if self.training and self.dropout.p > 0:
            # Dropout sits between the embeddings and the projection: no shortcut.
            embedded = self.dropout(self.spatial(features.float()))
            return torch.addmm(self.projection_bias, embedded,
                               self.projection_weight.reshape(-1, self.latent_dim))
        mixing = self.mixing() if prepared is None else prepared
        dtype = self.matmul_dtype
        flat = features.reshape(features.shape[0], -1).to(dtype)
        return torch.addmm(self.projection_bias.to(dtype), flat, mixing.to(dtype)).float()

    def mixing(self) -> torch.Tensor:
        """The combined map (C * H * W, latent): M[c, s] = kernel[c, s, :] @ projection[c]."""
        channels, cells, _ = self.spatial.kernel.shape
        # Casting the two factors (1M values) is cheaper than casting their product (2M).
        mixing = torch.bmm(self.spatial.kernel.to(self.matmul_dtype),
                           self.projection_weight.to(self.matmul_dtype))
        return mixing.reshape(channels * cells, -1)


class BottleneckHead(nn.Module):
    """A cheaper image head: a learned 1x1 convolution down to `channels` per cell of the
    feature map -> dropout -> flatten -> Linear(latent). Like the spatial embeddings it is linear
    and keeps where things are (it pools over channels per cell instead of over cells per
    channel), but it is two dense matmuls: about 5x fewer multiply-adds per update on the
    512 x 4 x 4 ResNet-10 map than the spatial embeddings' combined map, and no small ones.
    It reads feature maps channels-last, (B, H, W, C), so that its first matmul needs no
    transpose (the ResNet's output is channels-last in memory already)."""

    def __init__(self, feature_shape, latent_dim: int, channels: int, dropout: float,
                 matmul_dtype: torch.dtype):
        super().__init__()
        in_channels, height, width = feature_shape
        self.cells = height * width
        self.feature_shape = (height, width, in_channels)
        self.reduce = nn.Linear(in_channels, channels, bias=False)
        self.dropout = nn.Dropout(dropout)
        self.projection = nn.Linear(self.cells * channels, latent_dim)
        self.matmul_dtype = matmul_dtype

    def from_backbone(self, feature_map: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, H, W, C) (a view of a channels-last map, a copy otherwise)."""
        return feature_map.permute(0, 2, 3, 1).contiguous()

    def prepare(self) -> None:
        return None

    def forward(self, features: torch.Tensor, prepared=None) -> torch.Tensor:
        return self._project(self._cells(features) @ self.reduce.weight.to(self.matmul_dtype).t(),
                             features.shape[0])

    def pair(self, other: 'BottleneckHead', features: torch.Tensor, prepared=None):
        """(this head's, `other`'s) outputs for the same feature maps (the online and the target
        head on s'): both 1x1 reductions as one matmul of twice the width, which an AVX2 core
        does in about 15% less time than the two apart."""
        weights = torch.cat([self.reduce.weight, other.reduce.weight]).to(self.matmul_dtype)
        mine, theirs = (self._cells(features) @ weights.t()).split(self.reduce.out_features, 1)
        b = features.shape[0]
        return self._project(mine, b), other._project(theirs, b)

    def _cells(self, features: torch.Tensor) -> torch.Tensor:
        """(B, H, W, C) feature maps as (B * HW, C) rows, in the matmul dtype."""
        return features.reshape(-1, features.shape[-1]).to(self.matmul_dtype)

    def _project(self, reduced: torch.Tensor, batch: int) -> torch.Tensor:
        """(B * HW, channels) reduced cells -> dropout -> Linear(latent), float32 out."""
        dtype = self.matmul_dtype
        reduced = self.dropout(reduced.reshape(batch, -1))
        return torch.addmm(self.projection.bias.to(dtype), reduced,
                           self.projection.weight.to(dtype).t()).float()
