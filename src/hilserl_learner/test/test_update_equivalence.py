"""The agent's update, with its shortcuts (the critic ensemble as stacked weights, the online and
the target encoder of s' sharing the image heads' pass, the latent of s reused by the actor, the
actor's Q differentiable in the action only), against the straightforward computation: every
network called on its own, each critic a separate Linear/LayerNorm/ReLU network, the targets
under no_grad, plain Adam. Same seed and batches: the same losses and parameters."""
import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

from hilserl_learner.config import config_from
from hilserl_learner.sac import losses
from hilserl_learner.sac.agent import SACAgent

# float32 throughout: 'auto' precision would run the matmuls in bfloat16 on a CPU with AMX, and
# the shortcuts are compared here to float32's accuracy (bfloat16 has a test of its own below).
SMALL = {'batch_size': 8, 'latent_dim': 8, 'hidden_dims': [16, 16], 'gripper_hidden_dims': [8],
         'image_encoder_hidden_dim': 4, 'device': 'cpu', 'tau': 0.1, 'temperature_lr': 1e-2,
         'precision': 'fp32'}
UPDATES = 4  # the actor and the temperature with every second one


def plain_critics(ensemble):
    """Each member of a CriticEnsemble as a network of its own, with a copy of its weights."""
    networks = []
    for member in range(ensemble.members):
        layers = []
        for layer, (weight, bias) in enumerate(zip(ensemble.weights, ensemble.biases)):
            linear = nn.Linear(*weight.shape[1:])
            linear.weight.data.copy_(weight[member].t())
            linear.bias.data.copy_(bias[member, 0])
            layers.append(linear)
            if layer < len(ensemble.norm_weights):
                norm = nn.LayerNorm(weight.shape[-1])
                norm.weight.data.copy_(ensemble.norm_weights[layer][member, 0])
                norm.bias.data.copy_(ensemble.norm_biases[layer][member, 0])
                layers += [norm, nn.ReLU()]
        networks.append(nn.Sequential(*layers))
    return networks


class Reference:
    """The straightforward SAC update (HIL-SERL's, as sac.agent documents it) on copies of an
    agent's networks."""

    def __init__(self, agent: SACAgent):
        self.config = agent.config
        copied = copy.deepcopy(agent)  # the online and the target encoder keep sharing a backbone
        self.encoder, self.encoder_target = copied.encoder, copied.encoder_target
        self.actor, self.log_alpha = copied.actor, copied.log_alpha
        self.gripper, self.gripper_target = copied.gripper_critic, copied.gripper_target
        self.critics = plain_critics(agent.critic)
        self.critic_targets = plain_critics(agent.critic_target)
        self.cached_features = agent.cached_features
        lr = self.config.critic_lr
        self.critic_params = self.encoder.trainable_parameters() + [
            p for critic in self.critics for p in critic.parameters()]
        self.critic_optimizer = torch.optim.Adam(self.critic_params, lr=lr)
        self.gripper_optimizer = torch.optim.Adam(self.gripper.parameters(), lr=lr)
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=lr)
        self.temperature_optimizer = torch.optim.Adam([self.log_alpha],
                                                      lr=self.config.temperature_lr)

    def encode(self, encoder, batch, prefix=''):
        name = 'features' if self.cached_features else 'image'
        return encoder(batch[prefix + 'state'], **{name: batch[prefix + name]})

    def q(self, critics, latent, action):
        return torch.stack([critic(torch.cat([latent, action], -1)).squeeze(-1)
                            for critic in critics])

    def step(self, optimizer, params, loss):
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, self.config.grad_clip_norm)
        optimizer.step()

    def update(self, batch, update_actor):
        cfg = self.config
        alpha = self.log_alpha.detach().exp()
        latent = self.encode(self.encoder, batch)
        with torch.no_grad():
            online_next = self.encode(self.encoder, batch, 'next_')
            target_next = self.encode(self.encoder_target, batch, 'next_')
            next_action, next_log_prob = self.actor(online_next)
            y = losses.critic_target(
                batch['reward'], batch['terminated'],
                self.q(self.critic_targets, target_next, next_action), next_log_prob,
                cfg.discount, alpha, cfg.backup_entropy)
            gripper_y = losses.gripper_target(
                batch['reward'], batch['gripper_penalty'], batch['terminated'],
                self.gripper(online_next), self.gripper_target(target_next), cfg.discount)
        critic_loss = losses.critic_loss(self.q(self.critics, latent, batch['action']), y)
        self.step(self.critic_optimizer, self.critic_params, critic_loss)

        gripper_q = self.gripper(latent.detach())
        gripper_loss = losses.gripper_loss(gripper_q, batch['gripper_action'], gripper_y) + \
            cfg.bc_weight * losses.gripper_margin_loss(
                gripper_q, batch['gripper_action'], batch['is_intervention'], cfg.gripper_margin)
        self.step(self.gripper_optimizer, list(self.gripper.parameters()), gripper_loss)

        with torch.no_grad():
            for targets, sources in (
                    ([p for c in self.critic_targets for p in c.parameters()],
                     [p for c in self.critics for p in c.parameters()]),
                    (self.gripper_target.parameters(), self.gripper.parameters()),
                    (self.encoder_target.trainable_parameters(),
                     self.encoder.trainable_parameters())):
                for target, source in zip(targets, sources):
                    target.mul_(1 - cfg.tau).add_(cfg.tau * source)
        result = {'critic_loss': critic_loss, 'gripper_critic_loss': gripper_loss}
        if not update_actor:
            return result

        mean, log_std = self.actor.distribution_params(latent.detach())
        action, log_prob = self.actor.sample(mean, log_std)
        actor_loss = losses.actor_loss(log_prob, self.q(self.critics, latent.detach(), action),
                                       alpha) + cfg.bc_weight * losses.behaviour_cloning_loss(
            mean, log_std, batch['action'], batch['is_intervention'])
        self.step(self.actor_optimizer, list(self.actor.parameters()), actor_loss)
        temperature_loss = losses.temperature_loss(self.log_alpha, log_prob, cfg.target_entropy)
        self.step(self.temperature_optimizer, [self.log_alpha], temperature_loss)
        with torch.no_grad():
            self.log_alpha.clamp_(max=math.log(cfg.temperature_max))
        return {**result, 'actor_loss': actor_loss, 'temperature_loss': temperature_loss}


def batch_for(agent, rng, n=8):
    """A batch with every term at work: rewards, terminations, toggle penalties, human rows."""
    raw = {'state': rng.normal(size=(n, 18)).astype(np.float32),
           'next_state': rng.normal(size=(n, 18)).astype(np.float32),
           'action': rng.uniform(-1, 1, (n, 3)).astype(np.float32),
           'gripper_action': rng.integers(0, 3, n).astype(np.uint8),
           'reward': (rng.random(n) < 0.5).astype(np.float32),
           'gripper_penalty': (rng.random(n) < 0.3).astype(np.float32) * 0.02,
           'terminated': rng.random(n) < 0.3, 'truncated': np.zeros(n, bool),
           'is_intervention': rng.random(n) < 0.5}
    images = [rng.integers(0, 256, (n, 128, 128, 3), dtype=np.uint8) for _ in range(2)]
    if agent.cached_features:
        raw['features'], raw['next_features'] = (agent.features(i) for i in images)
    else:
        raw['image'], raw['next_image'] = images
    return agent.batch_to_tensors(raw)


def agent_for(encoder, image_head):
    config = config_from({**SMALL, 'encoder': encoder, 'image_head': image_head})
    if encoder == 'small_conv':
        return SACAgent(config)
    with pytest.warns(UserWarning):  # a random ResNet-10: fine for comparing two computations
        return SACAgent(config)


def assert_all_close(ours, theirs, what):
    ours, theirs = list(ours), list(theirs)
    assert len(ours) == len(theirs) > 0, what
    for a, b in zip(ours, theirs):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5), (what, (a - b).abs().max())


# resnet10: a frozen backbone and stored feature maps (the learner's default, the image heads'
# shared pass over s'); small_conv: a backbone trained with the critic, on images.
@pytest.mark.parametrize('encoder,image_head', [('resnet10', 'bottleneck'),
                                                ('resnet10', 'spatial'),
                                                ('small_conv', 'bottleneck')])
def test_the_update_equals_the_straightforward_computation(encoder, image_head):
    agent = agent_for(encoder, image_head)
    reference = Reference(agent)
    # Ensemble members start apart (stacked weights, one initialisation each): were they one
    # network, the comparison below could not tell.
    members = [list(c.parameters())[0] for c in reference.critics]
    assert not torch.allclose(members[0], members[1])
    rng = np.random.default_rng(0)
    for step in range(UPDATES):
        batch = batch_for(agent, rng)
        update_actor = step % 2 == 1
        torch.manual_seed(step)  # the same noise in a' ~ pi(s') and a ~ pi(s)
        ours = agent.update(batch, update_actor)
        torch.manual_seed(step)
        theirs = reference.update(batch, update_actor)
        assert set(theirs) <= set(ours)
        for name, value in theirs.items():
            assert ours[name].item() == pytest.approx(value.item(), rel=1e-4, abs=1e-6), name

    assert_all_close(agent.encoder.trainable_parameters(),
                     reference.encoder.trainable_parameters(), 'encoder')
    assert_all_close(agent.encoder_target.trainable_parameters(),
                     reference.encoder_target.trainable_parameters(), 'target encoder')
    for name, ensemble, plain in (('critic', agent.critic, reference.critics),
                                  ('target critic', agent.critic_target,
                                   reference.critic_targets)):
        for member, network in zip(plain_critics(ensemble), plain):
            assert_all_close(member.parameters(), network.parameters(), name)
    assert_all_close(agent.gripper_critic.parameters(), reference.gripper.parameters(), 'gripper')
    assert_all_close(agent.gripper_target.parameters(), reference.gripper_target.parameters(),
                     'gripper target')
    assert_all_close(agent.actor.parameters(), reference.actor.parameters(), 'actor')
    assert_all_close([agent.log_alpha], [reference.log_alpha], 'temperature')


def test_the_actors_q_is_the_critics_and_moves_only_the_action():
    agent = SACAgent(config_from({**SMALL, 'encoder': 'small_conv'}))
    latent = torch.randn(8, agent.encoder.out_features)
    action = torch.rand(8, 3, requires_grad=True)
    q = agent.critic(latent, action)
    (expected,) = torch.autograd.grad(q.sum(), action)
    action_values = agent.critic.action_values(latent, action)
    assert torch.allclose(action_values, q, rtol=1e-5, atol=1e-6)
    action_values.sum().backward()
    assert torch.allclose(action.grad, expected, rtol=1e-5, atol=1e-6)
    assert all(p.grad is None for p in agent.critic.parameters())


@pytest.mark.parametrize('image_head', ['bottleneck', 'spatial'])
def test_bfloat16_matmuls_give_the_float32_update_to_bfloat16_accuracy(image_head):
    """precision bf16 (what 'auto' picks on CUDA and on CPUs with AMX): from the same weights and
    batch, one update's losses are float32's to within bfloat16's 8-bit mantissa (measured:
    0.3% at most), and not equal to them (the bfloat16 matmuls ran)."""
    results = {}
    for precision in ('fp32', 'bf16'):
        with pytest.warns(UserWarning):  # a random ResNet-10, the same for both (one seed)
            agent = SACAgent(config_from({**SMALL, 'encoder': 'resnet10',
                                          'image_head': image_head, 'precision': precision}))
        batch = batch_for(agent, np.random.default_rng(0))
        torch.manual_seed(0)
        results[precision] = {k: v.item() for k, v in agent.update(batch, True).items()}
    assert results['bf16'] != results['fp32']
    for name, value in results['fp32'].items():
        assert results['bf16'][name] == pytest.approx(value, rel=1e-2, abs=1e-2), name
