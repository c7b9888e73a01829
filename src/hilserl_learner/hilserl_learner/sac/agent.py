"""The SAC agent of HIL-SERL: networks, optimisers, temperature and one update step.

Encoder sharing (as in HIL-SERL): one observation encoder; the critic loss trains it, the actor
and the gripper critic read its output detached.

Targets (as in HIL-SERL, which Polyak-averages the whole parameter tree): the critic ensemble,
the gripper critic and the encoder's trainable part (its heads, and a backbone when it is
trained) have target copies, averaged at `tau` after every critic update. A frozen backbone is
shared (with stored features it does not run at all). In the bootstrap targets the target
critics and the gripper target critic read the target encoder's latent of s'; the actor's next
action and the online gripper critic's argmax (Double DQN) read the online encoder's.
"""
import copy
import math
from typing import Dict, Optional

import numpy as np
import torch
from torch import nn

from hilserl_learner.config import ACTION_DIM, GRIPPER_ACTIONS, LearnerConfig
from hilserl_learner.networks.actor_critic import (
    Actor,
    CriticEnsemble,
    GripperCritic,
    ObservationEncoder,
    build_backbone,
    frozen_features_cacheable,
)
from hilserl_learner.replay.buffer import FEATURE_DTYPE, FEATURE_FIELDS
from hilserl_learner.sac import losses


def select_device(name: str) -> torch.device:
    if name == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    if name == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError('device "cuda" was asked for but torch sees no CUDA device')
    return torch.device(name)


class SACAgent(nn.Module):
    def __init__(self, config: LearnerConfig, backbone: Optional[nn.Module] = None,
                 device: Optional[torch.device] = None):
        super().__init__()
        self.config = config
        self.device = device or select_device(config.device)
        torch.manual_seed(config.seed)
        backbone = backbone if backbone is not None else build_backbone(config)
        frozen = not any(p.requires_grad for p in backbone.parameters())
        self.cached_features = frozen_features_cacheable(config) and frozen
        matmul_dtype = image_matmul_dtype(config.precision, self.device)
        self.encoder = ObservationEncoder(backbone, config.state_dim, config.latent_dim,
                                          config.spatial_features, frozen, config.image_dropout,
                                          matmul_dtype, config.image_head,
                                          config.bottleneck_channels)
        latent = self.encoder.out_features
        self.actor = Actor(latent, config.hidden_dims, ACTION_DIM, config.log_std_min,
                           config.log_std_max)
        self.critic = CriticEnsemble(config.num_critics, latent, ACTION_DIM, config.hidden_dims,
                                     matmul_dtype)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.gripper_critic = GripperCritic(latent, config.gripper_hidden_dims, GRIPPER_ACTIONS)
        self.gripper_target = copy.deepcopy(self.gripper_critic).requires_grad_(False)
        self.encoder_target = self.encoder.target_copy()
        self.log_alpha = nn.Parameter(torch.tensor(math.log(config.temperature_init)))
        self.to(self.device)
        # (targets, sources) in matching order, averaged in one pass after each critic update
        self.polyak_pairs = (
            [*self.critic_target.parameters(), *self.gripper_target.parameters(),
             *self.encoder_target.trainable_parameters()],
            [*self.critic.parameters(), *self.gripper_critic.parameters(),
             *self.encoder.trainable_parameters()])

        self.critic_optimizer = _adam(
            self.encoder.trainable_parameters() + list(self.critic.parameters()), config.critic_lr)
        self.actor_optimizer = _adam(self.actor.parameters(), config.actor_lr)
        self.gripper_optimizer = _adam(self.gripper_critic.parameters(), config.gripper_critic_lr)
        self.temperature_optimizer = _adam([self.log_alpha], config.temperature_lr)
        self.augment_generator = torch.Generator(device=self.device).manual_seed(config.seed)
        self.nonfinite_losses = 0  # steps skipped because a loss was NaN or infinite

    @property
    def temperature(self) -> torch.Tensor:
        """alpha, without gradient (the temperature loss works on log_alpha)."""
        return self.log_alpha.detach().exp()

    # --- update ------------------------------------------------------------------------

    def batch_to_tensors(self, batch: Dict[str, np.ndarray]) -> Dict[str, torch.Tensor]:
        pin = self.device.type == 'cuda'  # on a CPU the arrays are used in place
        tensors = {}
        for name, array in batch.items():
            tensor = torch.from_numpy(np.ascontiguousarray(array))
            if pin:
                tensor = tensor.pin_memory().to(self.device, non_blocking=True)
            if name in FEATURE_FIELDS:
                # In the image matmuls' dtype here, once (on the device): s' is read by the
                # online and the target encoder, and a bf16 -> fp32 pass over a batch's feature
                # maps costs as much as a small matmul (1.6 ms of a 60 ms update, AVX2 core).
                tensor = stored_features(tensor).to(self.encoder.matmul_dtype)
            tensors[name] = tensor
        return tensors

    def encode(self, batch: Dict[str, torch.Tensor], prefix: str = '',
               prepared=None) -> torch.Tensor:
        """The online encoder's latent of s (prefix '') or s' ('next_')."""
        return self.encoder(batch[prefix + 'state'], prepared=prepared,
                            **self.image_input(batch, prefix))

    def image_input(self, batch: Dict[str, torch.Tensor], prefix: str = '') -> Dict:
        """What the encoders read of the images of s or s': the stored feature maps; else the
        images (randomly shifted with augmentation), passed through a frozen backbone here once
        so that the online and the target encoder share its features."""
        if self.cached_features:
            return {'features': batch[prefix + 'features']}
        image = batch[prefix + 'image']
        if self.config.image_augmentation:
            image = random_shift(image, self.config.augmentation_pad_px, self.augment_generator)
        if self.encoder.frozen_backbone:
            return {'features': self.encoder.features(image)}
        return {'image': image}

    @torch.no_grad()
    def bootstrap_targets(self, batch: Dict[str, torch.Tensor], prepared=None):
        """(critic target y, gripper critic target) of a batch. The actor's next action and
        the online gripper critic's argmax read the online encoder's latent of s' (`prepared`:
        its `prepare()` of this update, shared with s); the target critics read the target
        encoder's, which prepares its own (its weights differ)."""
        cfg = self.config
        reward, terminated = batch['reward'], batch['terminated']
        state, image = batch['next_state'], self.image_input(batch, 'next_')
        if 'features' in image:  # the same maps for both encoders: their heads share the work
            online, target = self.encoder.pair(self.encoder_target, state, image['features'],
                                               prepared)
        else:  # a trained backbone: each encoder's own features
            online = self.encoder(state, prepared=prepared, **image)
            target = self.encoder_target(state, **image)
        next_action, next_log_prob = self.actor(online)
        critic_y = losses.critic_target(
            reward, terminated, self.critic_target(target, next_action), next_log_prob,
            cfg.discount, self.temperature, cfg.backup_entropy)
        gripper_y = losses.gripper_target(
            reward, batch['gripper_penalty'], terminated, self.gripper_critic(online),
            self.gripper_target(target), cfg.discount)
        return critic_y, gripper_y

    def update(self, batch: Dict[str, torch.Tensor], update_actor: bool) -> Dict[str, torch.Tensor]:
        """One critic + gripper critic update, and an actor + temperature update when asked.
        Returns the losses as 0-d tensors (no host sync here; read them when reporting)."""
        return self._update(batch, update_actor)

    def _update(self, batch, update_actor):
        cfg = self.config
        if not self.training:  # switching modes walks every submodule: only when needed
            self.train()
        # s and s' share what the image head can prepare once (ObservationEncoder.prepare).
        prepared = self.encoder.prepare()
        latent = self.encode(batch, prepared=prepared)
        target_q, gripper_y = self.bootstrap_targets(
            batch, None if prepared is None else prepared.detach())

        q = self.critic(latent, batch['action'])
        critic_loss = losses.critic_loss(q, target_q)
        self._step(self.critic_optimizer, critic_loss)

        gripper_q = self.gripper_critic(latent.detach())
        gripper_loss = losses.gripper_loss(gripper_q, batch['gripper_action'], gripper_y)
        if cfg.bc_weight > 0 and cfg.gripper_margin > 0:
            gripper_loss = gripper_loss + cfg.bc_weight * losses.gripper_margin_loss(
                gripper_q, batch['gripper_action'], batch['is_intervention'], cfg.gripper_margin)
        self._step(self.gripper_optimizer, gripper_loss)

        polyak_update(*self.polyak_pairs, cfg.tau)
        result = {'critic_loss': critic_loss.detach(), 'gripper_critic_loss': gripper_loss.detach(),
                  'q_mean': q.detach().mean()}
        if update_actor:
            result.update(self.update_actor(latent.detach(), batch))
        return result

    def update_actor(self, latent: torch.Tensor, batch: Optional[Dict[str, torch.Tensor]] = None
                     ) -> Dict[str, torch.Tensor]:
        mean, log_std = self.actor.distribution_params(latent)
        action, log_prob = self.actor.sample(mean, log_std)
        q = self.critic.action_values(latent, action)
        alpha = self.temperature.detach()
        actor_loss = losses.actor_loss(log_prob, q, alpha)
        bc_term = torch.zeros((), device=latent.device)
        if self.config.bc_weight > 0 and batch is not None:
            bc_term = self.config.bc_weight * losses.behaviour_cloning_loss(
                mean, log_std, batch['action'], batch['is_intervention'])
            actor_loss = actor_loss + bc_term
        # The loss's terms apart (actor_loss = entropy term - Q term + BC term): which one pulls
        # the policy, e.g. while the temperature rises.
        terms = {'actor_loss': actor_loss.detach(), 'actor_bc_term': bc_term.detach(),
                 'actor_entropy_term': alpha * log_prob.detach().mean(),
                 'actor_q_term': q.detach().mean()}
        if not self._finite(actor_loss):
            return terms
        # Gradients for the actor only: the critic must not move with the actor's loss.
        actor_params = list(self.actor.parameters())
        grads = torch.autograd.grad(actor_loss, actor_params)
        for param, grad in zip(actor_params, grads):
            param.grad = grad
        self._clip_and_step(self.actor_optimizer)

        temperature_loss = losses.temperature_loss(self.log_alpha, log_prob,
                                                   self.config.target_entropy)
        self._step(self.temperature_optimizer, temperature_loss)
        if self.config.temperature_max > 0:
            with torch.no_grad():
                self.log_alpha.clamp_(max=math.log(self.config.temperature_max))
        return {**terms, 'temperature_loss': temperature_loss.detach(),
                'entropy': -log_prob.detach().mean()}

    def _step(self, optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        if not self._finite(loss):
            return
        loss.backward()
        self._clip_and_step(optimizer)

    def _finite(self, loss: torch.Tensor) -> bool:
        """False (and counted) for a NaN/inf loss, whose step would poison the weights. Checked
        on CPUs only, where reading the value costs nothing (on a GPU it would stall the queue)."""
        if self.device.type != 'cpu' or bool(torch.isfinite(loss)):
            return True
        self.nonfinite_losses += 1
        return False

    def _clip_and_step(self, optimizer: torch.optim.Optimizer) -> None:
        if self.config.grad_clip_norm > 0:
            params = [p for group in optimizer.param_groups for p in group['params']
                      if p.grad is not None]
            nn.utils.clip_grad_norm_(params, self.config.grad_clip_norm, foreach=True)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    @torch.no_grad()
    def fit_state_scale(self, states: torch.Tensor, min_std: float) -> None:
        """The state standardisation of both encoders (ObservationEncoder.fit_state_scale): the
        statistics are data, not averaged weights."""
        for encoder in (self.encoder, self.encoder_target):
            encoder.fit_state_scale(states, min_std)

    # --- acting ------------------------------------------------------------------------

    @torch.no_grad()
    def act(self, state: torch.Tensor, image: Optional[torch.Tensor] = None,
            features: Optional[torch.Tensor] = None, deterministic: bool = False):
        """(EE actions (B, 3) in [-1, 1], gripper commands (B,)) for a batch of observations."""
        if self.training:
            self.eval()
        latent = self.encoder(state, image=image, features=features)
        action, _ = self.actor(latent, deterministic=deterministic)
        return action, self.gripper_critic(latent).argmax(dim=-1)

    @torch.no_grad()
    def features(self, images: np.ndarray) -> np.ndarray:
        """Backbone feature maps of uint8 images (N, 128, 128, 3), for the replay buffer
        (bfloat16 bit patterns, replay.buffer.FEATURE_DTYPE)."""
        chunks = []
        for start in range(0, len(images), FEATURE_BATCH):  # bounded activation memory
            batch = torch.from_numpy(np.ascontiguousarray(images[start:start + FEATURE_BATCH]))
            feats = self.encoder.features(batch.to(self.device))
            chunks.append(feats.to(torch.bfloat16).view(torch.int16).cpu().numpy())
        return np.concatenate(chunks).view(FEATURE_DTYPE)

    # --- what the actor needs ------------------------------------------------------------

    def policy_state_dict(self) -> Dict[str, torch.Tensor]:
        """The parameters an actor needs to act: encoder heads, actor, gripper critic (and the
        backbone only when it is trained; a frozen one is loaded from its own weights)."""
        state = {}
        for prefix, module in (('encoder.', self.encoder), ('actor.', self.actor),
                               ('gripper_critic.', self.gripper_critic)):
            for name, tensor in module.state_dict().items():
                if prefix == 'encoder.' and name.startswith('backbone.') and \
                        self.encoder.frozen_backbone:
                    continue
                state[prefix + name] = tensor.detach()
        return state


FEATURE_BATCH = 32  # images per backbone pass when storing features


def image_matmul_dtype(precision: str, device: torch.device) -> torch.dtype:
    """bfloat16 where it is fast (CUDA, CPUs with AMX) when `precision` is auto."""
    if precision == 'auto':
        precision = 'bf16' if device.type == 'cuda' or cpu_has_amx_bf16() else 'fp32'
    return torch.bfloat16 if precision == 'bf16' else torch.float32


def cpu_has_amx_bf16() -> bool:
    try:
        with open('/proc/cpuinfo') as cpuinfo:
            return 'amx_bf16' in cpuinfo.read()
    except OSError:
        return False


def stored_features(array) -> torch.Tensor:
    """Feature maps as the replay buffer stores them (bfloat16 bits) -> a bfloat16 tensor."""
    tensor = array if isinstance(array, torch.Tensor) else torch.from_numpy(array)
    return tensor.view(torch.bfloat16)


def _adam(params, lr: float) -> torch.optim.Adam:
    # The fused kernel does the whole step in one pass over the parameters (CPU and CUDA).
    return torch.optim.Adam(list(params), lr=lr, fused=True)


def polyak_update(target, source, tau: float) -> None:
    """target <- (1 - tau) target + tau source, for every parameter of two modules or two lists
    of parameters in matching order."""
    targets, sources = (list(m.parameters() if isinstance(m, nn.Module) else m)
                        for m in (target, source))
    with torch.no_grad():
        torch._foreach_lerp_(targets, sources, tau)


def random_shift(images: torch.Tensor, pad: int, generator: torch.Generator) -> torch.Tensor:
    """DrQ's augmentation: pad (B, H, W, C) uint8 images by `pad` with edge pixels and crop
    back at a random offset per image."""
    b, h, w, _ = images.shape
    padded = nn.functional.pad(images.permute(0, 3, 1, 2).float(), (pad,) * 4,
                               mode='replicate').permute(0, 2, 3, 1)
    shifts = torch.randint(0, 2 * pad + 1, (b, 2), generator=generator, device=images.device)
    rows = shifts[:, :1] + torch.arange(h, device=images.device)
    cols = shifts[:, 1:] + torch.arange(w, device=images.device)
    batch = torch.arange(b, device=images.device)[:, None, None]
    return padded[batch, rows[:, :, None], cols[:, None, :]].to(images.dtype)
