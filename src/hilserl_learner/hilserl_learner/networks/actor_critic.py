"""The SAC networks of HIL-SERL: an observation encoder shared by the actor and the critics, a
tanh-squashed Gaussian actor for the 3 EE dimensions, a LayerNorm critic ensemble and a discrete
gripper critic.

Image path: a backbone feature map (B, C, H, W) -> an image head (spatial learned embeddings,
or a channel bottleneck) -> dropout -> Linear(latent) -> LayerNorm -> tanh. With a frozen
ResNet-10 the feature map is computed once per stored image (replay buffer), so networks accept
either uint8 images or feature maps.
State path: Linear(latent) -> LayerNorm -> tanh. The two embeddings are concatenated.
"""
import copy
import math
from typing import Optional, Sequence, Tuple

import torch
from torch import nn

from hilserl_learner.networks.image_heads import BottleneckHead, SpatialEmbeddingHead

STATE_CLIP = 5.0  # standardised state values beyond this many spreads are clipped


class SmallConvBackbone(nn.Module):
    """A small conv net trained with the critic, for runs without pretrained weights:
    uint8 (B, 128, 128, 3) -> (B, hidden, 8, 8)."""

    def __init__(self, hidden: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, hidden, 7, stride=2, padding=3), nn.ReLU(),
            nn.Conv2d(hidden, hidden, 5, stride=2, padding=2), nn.ReLU(),
            nn.Conv2d(hidden, hidden, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(hidden, hidden, 3, stride=2, padding=1), nn.ReLU())
        self.feature_shape = (hidden, 8, 8)
        self.identity = f'small_conv-{hidden}'

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[-1] == 3:
            images = images.permute(0, 3, 1, 2)
        return self.net(images.float() / 255.0 - 0.5)


class ObservationEncoder(nn.Module):
    """(state, image or feature map) -> latent of size 2 * latent_dim.

    Image: backbone feature map -> image head (`image_head`: 'spatial' or 'bottleneck') ->
    LayerNorm -> tanh. State: Linear(latent) -> LayerNorm -> tanh."""

    def __init__(self, backbone: nn.Module, state_dim: int, latent_dim: int,
                 spatial_features: int, frozen_backbone: bool, dropout: float = 0.1,
                 matmul_dtype: torch.dtype = torch.float32, image_head: str = 'spatial',
                 bottleneck_channels: int = 32):
        super().__init__()
        self.backbone = backbone
        self.frozen_backbone = frozen_backbone
        # The image head is most of an update's arithmetic: its matmuls may run in bfloat16;
        # its output, the critics, the actor and the losses stay float32.
        if image_head == 'bottleneck':
            self.image_head = BottleneckHead(backbone.feature_shape, latent_dim,
                                             bottleneck_channels, dropout, matmul_dtype)
        else:
            self.image_head = SpatialEmbeddingHead(backbone.feature_shape, latent_dim,
                                                   spatial_features, dropout, matmul_dtype)
        self.image_norm = nn.LayerNorm(latent_dim)
        self.state_head = nn.Sequential(
            nn.Linear(state_dim, latent_dim), nn.LayerNorm(latent_dim), nn.Tanh())
        # The state mixes radians, rad/s and metres: a centimetre of EE height is 0.01 next to
        # joint angles of order 1, too small a difference for the network to act on precisely.
        # Each value is standardised with statistics fitted once to the data (fit_state_scale)
        # and kept with the weights, so the actor standardises as the learner does.
        self.register_buffer('state_mean', torch.zeros(state_dim))
        self.register_buffer('state_std', torch.ones(state_dim))
        self.latent_dim = latent_dim
        self.matmul_dtype = matmul_dtype
        self.out_features = 2 * latent_dim

    @property
    def feature_shape(self):
        """Shape of one image's features as the image head reads them (and buffers store)."""
        return self.image_head.feature_shape

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Feature maps of uint8 images, laid out for the image head (what the replay buffer
        stores when the backbone is frozen)."""
        if self.frozen_backbone:
            with torch.no_grad():
                return self.image_head.from_backbone(self.backbone(images))
        return self.image_head.from_backbone(self.backbone(images))

    def prepare(self):
        """Work that the calls of one update (s and s') or of one set of weights can share."""
        return self.image_head.prepare()

    def forward(self, state: torch.Tensor, image: Optional[torch.Tensor] = None,
                features: Optional[torch.Tensor] = None, prepared=None) -> torch.Tensor:
        """Latent of a batch; `prepared` (from `prepare()`) lets calls share that work."""
        if features is None:
            features = self.features(image)
        return self._latent(self.image_head(features, prepared), state)

    def pair(self, other: 'ObservationEncoder', state: torch.Tensor, features: torch.Tensor,
             prepared=None):
        """(this encoder's, `other`'s) latents of the same observations, given as feature maps
        (the online and the target encoder of s'): the image heads share what they can
        (`pair`); `prepared` is this encoder's."""
        mine, theirs = self.image_head.pair(other.image_head, features, prepared)
        return self._latent(mine, state), other._latent(theirs, state)

    def _latent(self, image_head_output: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        state = ((state - self.state_mean) / self.state_std).clamp(-STATE_CLIP, STATE_CLIP)
        return torch.cat([self._squash(image_head_output), self.state_head(state)], dim=-1)

    @torch.no_grad()
    def fit_state_scale(self, states: torch.Tensor, min_std: float = 0.01) -> None:
        """Standardise each state value by the mean and spread of `states` (N, state_dim); a
        value that hardly varies there keeps a spread of at least `min_std`."""
        self.state_mean.copy_(states.mean(dim=0))
        self.state_std.copy_(states.std(dim=0).clamp(min=min_std))

    def image_latent(self, features: torch.Tensor, prepared=None) -> torch.Tensor:
        return self._squash(self.image_head(features, prepared))

    def _squash(self, image_head_output: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.image_norm(image_head_output))

    def trainable_parameters(self):
        """What the critic optimiser trains: everything but a frozen backbone."""
        return [p for name, p in self.named_parameters()
                if not (self.frozen_backbone and name.startswith('backbone.'))]

    def target_copy(self) -> 'ObservationEncoder':
        """A copy for the target networks, without gradients, to be Polyak-averaged with this
        encoder over `trainable_parameters()` (the same order in both). A frozen backbone is
        shared, not copied: its average would be itself, and the state dict keeps it once."""
        memo = {id(self.backbone): SharedBackbone(self.backbone)} if self.frozen_backbone else {}
        return copy.deepcopy(self, memo).requires_grad_(False)


class SharedBackbone(nn.Module):
    """A frozen backbone as a target encoder holds it: it runs the same network, which is not
    registered here (no parameters, no state dict entries: those belong to the online
    encoder)."""

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.__dict__['shared'] = backbone  # bypasses nn.Module's submodule registration
        self.feature_shape = backbone.feature_shape
        self.identity = backbone.identity

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.shared(images)


def mlp(in_dim: int, hidden_dims: Sequence[int], out_dim: int) -> nn.Sequential:
    """Linear -> LayerNorm -> ReLU for each hidden size, then a linear output."""
    layers = []
    for size in hidden_dims:
        layers += [nn.Linear(in_dim, size), nn.LayerNorm(size), nn.ReLU()]
        in_dim = size
    layers.append(nn.Linear(in_dim, out_dim))
    return nn.Sequential(*layers)


class Actor(nn.Module):
    """Tanh-squashed Gaussian policy over the normalised EE delta."""

    def __init__(self, latent_dim: int, hidden_dims: Sequence[int], action_dim: int,
                 log_std_min: float, log_std_max: float):
        super().__init__()
        self.net = mlp(latent_dim, hidden_dims, 2 * action_dim)
        self.action_dim = action_dim
        self.log_std_min, self.log_std_max = log_std_min, log_std_max

    def distribution_params(self, latent: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = self.net(latent).chunk(2, dim=-1)
        # Squash into the range smoothly instead of clipping, so gradients never vanish.
        log_std = self.log_std_min + 0.5 * (self.log_std_max - self.log_std_min) * (
            torch.tanh(log_std) + 1.0)
        return mean, log_std

    def forward(self, latent: torch.Tensor, deterministic: bool = False
                ) -> Tuple[torch.Tensor, torch.Tensor]:
        """(action in [-1, 1], log-probability of it) for a batch of latents."""
        return self.sample(*self.distribution_params(latent), deterministic)

    @staticmethod
    def sample(mean: torch.Tensor, log_std: torch.Tensor, deterministic: bool = False
               ) -> Tuple[torch.Tensor, torch.Tensor]:
        if deterministic:
            action = torch.tanh(mean)
            return action, torch.zeros(action.shape[:-1], device=action.device)
        std = log_std.exp()
        noise = torch.randn_like(mean)
        pre_tanh = mean + std * noise
        return torch.tanh(pre_tanh), squashed_gaussian_log_prob(noise, log_std, pre_tanh)


def squashed_gaussian_log_prob(noise: torch.Tensor, log_std: torch.Tensor,
                               pre_tanh: torch.Tensor) -> torch.Tensor:
    """log pi(tanh(u)) for u = mean + std * noise: Gaussian log-density minus the tanh
    Jacobian, log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)) (numerically stable)."""
    gaussian = (-0.5 * noise.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
    jacobian = (2.0 * (math.log(2.0) - pre_tanh - nn.functional.softplus(-2.0 * pre_tanh))).sum(-1)
    return gaussian - jacobian


class CriticEnsemble(nn.Module):
    """`members` Q(s, a) networks with LayerNorm, computed together: -> (E, B).

    Each layer's weights of all members are one (E, in, out) tensor, so a layer is one batched
    matmul over the ensemble. The hidden matmuls may run in bfloat16 (`matmul_dtype`: about 2x
    faster with a CPU's AMX units or a GPU); LayerNorms, the output layer and Q stay float32.
    """

    def __init__(self, members: int, latent_dim: int, action_dim: int,
                 hidden_dims: Sequence[int], matmul_dtype: torch.dtype = torch.float32):
        super().__init__()
        sizes = [latent_dim + action_dim, *hidden_dims, 1]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = 1.0 / math.sqrt(fan_in)  # nn.Linear's initialisation, per member
            self.weights.append(nn.Parameter(
                torch.empty(members, fan_in, fan_out).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(
                torch.empty(members, 1, fan_out).uniform_(-bound, bound)))
        self.norm_weights = nn.ParameterList(
            nn.Parameter(torch.ones(members, 1, size)) for size in hidden_dims)
        self.norm_biases = nn.ParameterList(
            nn.Parameter(torch.zeros(members, 1, size)) for size in hidden_dims)
        self.members = members
        self.matmul_dtype = matmul_dtype

    def forward(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        x = torch.cat([latent, action], dim=-1).expand(self.members, -1, -1)
        return self._beyond_first_layer(self._affine(x, self.weights[0], self.biases[0]),
                                        self.parameters_by_role())

    def action_values(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Q(s, a) -> (E, B) as a function of the action alone, as the actor's loss needs it:
        the latent and the critics' weights are constants there (no gradient reaches them). So
        the latent's share of the first layer is computed without a graph, and the backward pass
        computes the gradient of a's 3 inputs instead of all 2 * latent_dim + 3 (with an actor
        update every second critic update, about 3% of the arithmetic). Equal to forward() up to
        rounding: the first layer's sum is split in two (and a's share is added in float32, not
        rounded to a bfloat16 matmul dtype)."""
        weights, biases, norm_weights, norm_biases = (
            [p.detach() for p in group] for group in self.parameters_by_role())
        split = latent.shape[-1]
        with torch.no_grad():
            of_latent = self._affine(latent.expand(self.members, -1, -1),
                                     weights[0][:, :split], biases[0])
        first = torch.baddbmm(of_latent, action.expand(self.members, -1, -1),
                              weights[0][:, split:])
        return self._beyond_first_layer(first, (weights, biases, norm_weights, norm_biases))

    def parameters_by_role(self):
        """(weights, biases, LayerNorm weights, LayerNorm biases), each a list by layer."""
        return self.weights, self.biases, self.norm_weights, self.norm_biases

    def _affine(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """A hidden layer's matmul, in the matmul dtype; float32 out."""
        dtype = self.matmul_dtype
        return torch.baddbmm(bias.to(dtype), x.to(dtype), weight.to(dtype)).float()

    def _beyond_first_layer(self, x: torch.Tensor, parameters) -> torch.Tensor:
        """The rest of the network from the first layer's pre-activation (E, B, hidden)."""
        weights, biases, norm_weights, norm_biases = parameters
        for layer in range(1, len(weights)):
            x = nn.functional.layer_norm(x, x.shape[-1:])
            x = torch.relu(x * norm_weights[layer - 1] + norm_biases[layer - 1])
            if layer == len(weights) - 1:  # the output layer: Q in float32
                return torch.baddbmm(biases[layer], x, weights[layer]).squeeze(-1)
            x = self._affine(x, weights[layer], biases[layer])
        raise AssertionError('unreachable')


class GripperCritic(nn.Module):
    """Q(s, g) for the three gripper commands (close, stay, open): -> (B, 3)."""

    def __init__(self, latent_dim: int, hidden_dims: Sequence[int], actions: int = 3):
        super().__init__()
        self.net = mlp(latent_dim, hidden_dims, actions)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.net(latent)


def build_backbone(config, image_size: int = 128) -> nn.Module:
    """The image backbone `config` asks for (ResNet-10 is frozen unless configured otherwise)."""
    if config.encoder == 'small_conv':
        return SmallConvBackbone(config.image_encoder_hidden_dim)
    from hilserl_learner.networks.encoder import load_backbone
    backbone = load_backbone(config.encoder_weights, image_size=image_size)
    return backbone if config.freeze_encoder else backbone.unfreeze()


def frozen_features_cacheable(config) -> bool:
    """True when stored feature maps stay valid: a frozen backbone and no image augmentation."""
    return config.encoder == 'resnet10' and config.freeze_encoder and not config.image_augmentation
