"""SAC / HIL-SERL losses and targets against hand computations, and the agent's update."""
import math

import numpy as np
import pytest
import torch

from hilserl_learner.config import config_from
from hilserl_learner.networks.actor_critic import Actor, squashed_gaussian_log_prob
from hilserl_learner.sac import losses
from hilserl_learner.sac.agent import SACAgent, polyak_update, random_shift

TINY = {'batch_size': 8, 'latent_dim': 8, 'hidden_dims': [16], 'gripper_hidden_dims': [8],
        'encoder': 'small_conv', 'image_encoder_hidden_dim': 4, 'device': 'cpu'}


def test_critic_target_uses_the_ensemble_minimum_and_cuts_only_on_termination():
    reward = torch.tensor([1.0, 0.5, 0.0])
    terminated = torch.tensor([False, True, False])
    next_q = torch.tensor([[2.0, 3.0, -1.0],
                           [1.5, 4.0, -2.0]])
    log_prob = torch.tensor([-1.0, -2.0, 0.5])
    y = losses.critic_target(reward, terminated, next_q, log_prob, discount=0.9,
                             temperature=0.1, backup_entropy=False)
    # 1 + 0.9 * 1.5 ; terminated: 0.5 ; 0 + 0.9 * -2
    assert torch.allclose(y, torch.tensor([2.35, 0.5, -1.8]))
    y = losses.critic_target(reward, terminated, next_q, log_prob, discount=0.9,
                             temperature=0.1, backup_entropy=True)
    # min - alpha * log pi: 1.5 + 0.1 = 1.6 ; -2 - 0.05 = -2.05
    assert torch.allclose(y, torch.tensor([1 + 0.9 * 1.6, 0.5, 0.9 * -2.05]))


def test_truncation_does_not_zero_the_bootstrap():
    # The transition carries truncated=True but terminated=False: the target still bootstraps.
    y = losses.critic_target(torch.tensor([0.0]), torch.tensor([False]), torch.tensor([[10.0]]),
                             torch.tensor([0.0]), 0.97, 0.01, False)
    assert y.item() == pytest.approx(9.7)


def test_critic_actor_and_temperature_losses_by_hand():
    q = torch.tensor([[1.0, 2.0], [3.0, 0.0]])
    target = torch.tensor([2.0, 1.0])
    # errors: (-1, 1, 1, -1) -> mean of squares 1
    assert losses.critic_loss(q, target).item() == pytest.approx(1.0)
    log_prob = torch.tensor([-1.0, 0.5])
    # mean_E q = (2, 1); alpha = 0.2: (0.2 * -1 - 2 + 0.2 * 0.5 - 1) / 2 = -1.55
    assert losses.actor_loss(log_prob, q, 0.2).item() == pytest.approx(-1.55)
    log_alpha = torch.tensor(math.log(0.2), requires_grad=True)
    loss = losses.temperature_loss(log_alpha, log_prob, target_entropy=-2.0)
    # -(0.2 * ((-1 - 2) + (0.5 - 2)) / 2) = 0.45
    assert loss.item() == pytest.approx(0.45)


def test_behaviour_cloning_loss_is_the_humans_log_likelihood_on_human_rows():
    mean = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.5, 0.5, 0.5]])
    log_std = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [-1.0, -1.0, -1.0]])
    action = torch.tanh(torch.tensor([[0.3, 0.0, 0.0], [0.0, 0.0, 0.0], [0.5, 0.5, -0.5]]))
    is_human = torch.tensor([True, False, True])
    row0 = 0.5 * 0.3 ** 2 / 3                              # std 1, one dimension off by 0.3
    row2 = (0.5 * (1.0 / math.exp(-1)) ** 2 - 3.0) / 3     # std e^-1, one dimension off by 1
    loss = losses.behaviour_cloning_loss(mean, log_std, action, is_human)
    assert loss.item() == pytest.approx((row0 + row2) / 2, rel=1e-5)
    nobody = losses.behaviour_cloning_loss(mean, log_std, action,
                                           torch.zeros(3, dtype=torch.bool))
    assert nobody.item() == 0.0


def test_bc_weight_pulls_the_actor_to_the_human_action_and_narrows_it():
    rng = np.random.default_rng(4)
    raw = _batch(8, rng)
    raw['is_intervention'][:] = True
    raw['action'][:] = np.array([0.8, -0.6, 0.4], np.float32)
    errors, spreads = {}, {}
    for weight in (0.0, 1.0):
        torch.manual_seed(0)
        agent = SACAgent(config_from({**TINY, 'bc_weight': weight, 'actor_lr': 3e-3}))
        batch = agent.batch_to_tensors(raw)
        for _ in range(150):
            agent.update(batch, update_actor=True)
        with torch.no_grad():
            mean, log_std = agent.actor.distribution_params(agent.encode(batch))
        errors[weight] = (torch.tanh(mean) - batch['action']).abs().mean().item()
        spreads[weight] = log_std.exp().mean().item()
    assert errors[1.0] < 0.1 < errors[0.0], errors
    assert spreads[1.0] < 0.5 * spreads[0.0], spreads  # a consistent human: a narrow policy


def test_double_dqn_gripper_target_picks_with_online_values_with_target():
    reward = torch.tensor([0.0, 1.0])
    penalty = torch.tensor([0.02, 0.0])
    terminated = torch.tensor([False, True])
    online = torch.tensor([[0.0, 5.0, 1.0], [9.0, 0.0, 0.0]])
    target = torch.tensor([[7.0, 2.0, 3.0], [1.0, 1.0, 1.0]])
    y = losses.gripper_target(reward, penalty, terminated, online, target, discount=0.5)
    # online argmax = 1 -> target value 2 (not the target's own max 7); -0.02 + 0.5 * 2
    assert torch.allclose(y, torch.tensor([0.98, 1.0]))
    q = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.5, 0.0]])
    loss = losses.gripper_loss(q, torch.tensor([2, 1]), y)
    assert loss.item() == pytest.approx(((3 - 0.98) ** 2 + (0.5 - 1.0) ** 2) / 2)


def test_gripper_margin_loss_by_hand_counts_only_human_rows():
    q = torch.tensor([[1.0, 0.9, 0.0], [0.0, 2.0, 0.0], [5.0, 0.0, 0.0]])
    human = torch.tensor([1, 1, 2])
    is_human = torch.tensor([True, True, False])
    loss = losses.gripper_margin_loss(q, human, is_human, margin=0.2)
    # row 0: max(1.2, 0.9, 0.2) - 0.9 = 0.3; row 1: the human's wins by more than the margin
    assert loss.item() == pytest.approx((0.3 + 0.0) / 2)
    assert losses.gripper_margin_loss(q, human, torch.zeros(3, dtype=torch.bool), 0.2) == 0


def test_the_margin_makes_the_greedy_gripper_the_humans():
    rng = np.random.default_rng(5)
    raw = _batch(8, rng)
    raw['is_intervention'][:] = True
    raw['reward'][:] = 0.0
    torch.manual_seed(0)
    agent = SACAgent(config_from({**TINY, 'gripper_margin': 0.05, 'gripper_critic_lr': 3e-3}))
    batch = agent.batch_to_tensors(raw)
    with torch.no_grad():  # the human picks what the untrained critic likes least
        human = agent.gripper_critic(agent.encode(batch)).argmin(dim=-1)
    raw['gripper_action'][:] = human.numpy()
    batch = agent.batch_to_tensors(raw)
    for _ in range(80):
        agent.update(batch, update_actor=False)
    with torch.no_grad():
        q = agent.gripper_critic(agent.encode(batch))
    assert torch.equal(q.argmax(dim=-1), human)


def test_squashed_log_prob_matches_change_of_variables():
    torch.manual_seed(0)
    u = torch.randn(5, 3)
    log_std = torch.full((5, 3), -0.3)
    noise = u / log_std.exp()  # mean 0
    expected = (torch.distributions.Normal(0.0, log_std.exp()).log_prob(u)
                - torch.log(1 - torch.tanh(u) ** 2)).sum(-1)
    assert torch.allclose(squashed_gaussian_log_prob(noise, log_std, u), expected, atol=1e-5)


def test_actor_actions_stay_in_bounds_and_deterministic_is_tanh_of_mean():
    actor = Actor(4, [8], 3, -5.0, 2.0)
    latent = torch.randn(64, 4) * 10
    action, log_prob = actor(latent)
    assert action.abs().max() <= 1.0 and torch.isfinite(log_prob).all()
    mean, _ = actor.distribution_params(latent)
    assert torch.allclose(actor(latent, deterministic=True)[0], torch.tanh(mean))


def test_polyak_update_moves_targets_by_tau():
    source, target = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    before = target.weight.detach().clone()
    polyak_update(target, source, 0.1)
    assert torch.allclose(target.weight, 0.9 * before + 0.1 * source.weight)


def _batch(n, rng, reward=0.0):
    return {'state': rng.normal(size=(n, 18)).astype(np.float32),
            'next_state': rng.normal(size=(n, 18)).astype(np.float32),
            'action': rng.uniform(-1, 1, (n, 3)).astype(np.float32),
            'gripper_action': rng.integers(0, 3, n).astype(np.uint8),
            'reward': np.full(n, reward, np.float32), 'gripper_penalty': np.zeros(n, np.float32),
            'terminated': np.zeros(n, bool), 'truncated': np.zeros(n, bool),
            'is_intervention': np.zeros(n, bool),
            'image': rng.integers(0, 256, (n, 128, 128, 3), dtype=np.uint8),
            'next_image': rng.integers(0, 256, (n, 128, 128, 3), dtype=np.uint8)}


def test_temperature_moves_toward_the_target_entropy():
    rng = np.random.default_rng(0)
    # A tanh-squashed 3-dim policy has entropy <= 3 log 2 (uniform on [-1, 1]^3) and, with
    # log_std >= -5, well above -30: alpha must grow toward a target of 5, shrink toward -30.
    for target_entropy, grows in ((-30.0, False), (5.0, True)):
        agent = SACAgent(config_from({**TINY, 'target_entropy': target_entropy,
                                      'temperature_lr': 1e-2}))
        batch = agent.batch_to_tensors(_batch(8, rng))
        alpha0 = agent.temperature.item()
        for _ in range(20):
            result = agent.update(batch, update_actor=True)
        assert (agent.temperature.item() > alpha0) == grows, result


def test_the_temperature_stops_at_its_ceiling():
    rng = np.random.default_rng(0)
    # A target entropy above any tanh-squashed policy's: unbounded, alpha would keep growing.
    agent = SACAgent(config_from({**TINY, 'target_entropy': 5.0, 'temperature_lr': 0.1,
                                  'temperature_init': 0.01, 'temperature_max': 0.02}))
    batch = agent.batch_to_tensors(_batch(8, rng))
    for _ in range(30):
        agent.update(batch, update_actor=True)
    assert agent.temperature.item() == pytest.approx(0.02, rel=1e-5)


def test_actor_update_does_not_train_the_encoder_or_the_critic():
    agent = SACAgent(config_from(TINY))
    latent = torch.randn(8, agent.encoder.out_features)
    critic_before = [p.detach().clone() for p in agent.critic.parameters()]
    encoder_before = [p.detach().clone() for p in agent.encoder.parameters()]
    actor_before = [p.detach().clone() for p in agent.actor.parameters()]
    agent.update_actor(latent)
    assert all(torch.equal(a, b) for a, b in zip(critic_before, agent.critic.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(encoder_before, agent.encoder.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(actor_before, agent.actor.parameters()))


def test_critic_update_trains_the_encoder_heads_but_not_a_frozen_backbone():
    config = config_from({**TINY, 'encoder': 'resnet10'})
    with pytest.warns(UserWarning):
        agent = SACAgent(config)
    assert agent.cached_features
    rng = np.random.default_rng(1)
    raw = _batch(8, rng, reward=1.0)
    raw['features'] = agent.features(raw.pop('image'))
    raw['next_features'] = agent.features(raw.pop('next_image'))
    backbone_before = [p.detach().clone() for p in agent.encoder.backbone.parameters()]
    head_before = [p.detach().clone() for p in agent.encoder.image_head.parameters()]
    agent.update(agent.batch_to_tensors(raw), update_actor=False)
    assert all(torch.equal(a, b) for a, b in zip(backbone_before,
                                                  agent.encoder.backbone.parameters()))
    assert not any(torch.equal(a, b) for a, b in zip(head_before,
                                                     agent.encoder.image_head.parameters()))


def test_random_shift_moves_images_by_at_most_the_padding():
    images = torch.zeros(4, 16, 16, 3, dtype=torch.uint8)
    images[:, 8, 8] = 255
    shifted = random_shift(images, 2, torch.Generator().manual_seed(0))
    assert shifted.shape == images.shape and shifted.dtype == torch.uint8
    for image in shifted:
        rows, cols = torch.nonzero(image[..., 0], as_tuple=True)
        assert len(rows) == 1 and abs(rows[0] - 8) <= 2 and abs(cols[0] - 8) <= 2


def test_the_combined_image_map_equals_embeddings_then_projection():
    torch.manual_seed(0)
    from hilserl_learner.networks.actor_critic import ObservationEncoder, SmallConvBackbone
    encoder = ObservationEncoder(SmallConvBackbone(4), 18, 8, 3, False, dropout=0.0)
    head = encoder.image_head
    features = torch.randn(5, 4, 8, 8)
    embedded = head.spatial(features)
    expected = torch.tanh(encoder.image_norm(
        embedded @ head.projection_weight.reshape(12, 8) + head.projection_bias))
    assert torch.allclose(encoder.image_latent(features), expected, atol=1e-5)


def test_the_bottleneck_head_reduces_channels_per_cell_then_projects():
    torch.manual_seed(0)
    from hilserl_learner.networks.actor_critic import ObservationEncoder, SmallConvBackbone
    encoder = ObservationEncoder(SmallConvBackbone(4), 18, 8, 3, False, dropout=0.0,
                                 image_head='bottleneck', bottleneck_channels=2)
    head = encoder.image_head
    features = torch.randn(5, 4, 8, 8)
    per_cell = torch.einsum('bchw,rc->bhwr', features, head.reduce.weight)  # (5, 8, 8, 2)
    expected = torch.tanh(encoder.image_norm(head.projection(per_cell.reshape(5, -1))))
    stored = head.from_backbone(features)  # channels-last, as the replay buffer keeps them
    assert stored.shape == (5, 8, 8, 4) == (5, *encoder.feature_shape)
    assert torch.allclose(encoder.image_latent(stored), expected, atol=1e-5)
    # where things are matters: moving a feature to another cell changes the latent
    moved = head.from_backbone(torch.roll(features, 1, dims=-1))
    assert not torch.allclose(encoder.image_latent(moved), encoder.image_latent(stored))


def test_with_augmentation_the_backbone_sees_shifted_images_at_every_update():
    config = config_from({**TINY, 'encoder': 'resnet10', 'image_augmentation': True})
    with pytest.warns(UserWarning):
        agent = SACAgent(config)
    assert not agent.cached_features  # stored features would ignore the shifts
    seen = []
    agent.encoder.backbone.register_forward_hook(lambda m, args, out: seen.append(args[0]))
    raw = _batch(8, np.random.default_rng(2))
    result = agent.update(agent.batch_to_tensors(raw), update_actor=True)
    assert torch.isfinite(result['critic_loss'])
    assert len(seen) == 2 and not torch.equal(seen[0], torch.from_numpy(raw['image']))


def test_a_nan_batch_is_skipped_instead_of_poisoning_the_weights():
    agent = SACAgent(config_from(TINY))
    raw = _batch(8, np.random.default_rng(3))
    raw['reward'][0] = np.nan
    before = [p.detach().clone() for p in agent.critic.parameters()]
    agent.update(agent.batch_to_tensors(raw), update_actor=False)
    assert agent.nonfinite_losses >= 1
    assert all(torch.equal(a, b) for a, b in zip(before, agent.critic.parameters()))
    assert all(torch.isfinite(p).all() for p in agent.parameters())


def _frozen_resnet_agent(**values):
    """An agent on a (random, warned about) frozen ResNet-10 and stored feature maps."""
    with pytest.warns(UserWarning):
        agent = SACAgent(config_from({**TINY, 'encoder': 'resnet10', **values}))
    assert agent.cached_features
    return agent


def _feature_batch(agent, rng):
    raw = _batch(8, rng, reward=1.0)
    raw['features'] = agent.features(raw.pop('image'))
    raw['next_features'] = agent.features(raw.pop('next_image'))
    return agent.batch_to_tensors(raw)


@pytest.mark.parametrize('encoder', ['resnet10', 'small_conv'])
def test_the_target_encoder_moves_by_tau_towards_the_online_one(encoder):
    rng = np.random.default_rng(6)
    if encoder == 'resnet10':  # frozen: only the heads have a target; the backbone is shared
        agent = _frozen_resnet_agent(tau=0.1)
        batch = _feature_batch(agent, rng)
        assert not any(name.startswith('encoder_target.backbone')
                       for name in agent.state_dict())
    else:  # trained with the critic: the backbone has a target copy too
        agent = SACAgent(config_from({**TINY, 'tau': 0.1}))
        batch = agent.batch_to_tensors(_batch(8, rng, reward=1.0))
        assert any(name.startswith('encoder_target.backbone') for name in agent.state_dict())
    target = agent.encoder_target.trainable_parameters()
    with torch.no_grad():  # a target apart from the online encoder, as after many updates
        for parameter in target:
            parameter.add_(0.1 * torch.randn_like(parameter))
    before = [p.detach().clone() for p in target]
    agent.update(batch, update_actor=False)
    online = agent.encoder.trainable_parameters()
    assert len(target) == len(online) and len(target) > 0
    for old, new, source in zip(before, target, online):
        assert not torch.equal(old, new)
        assert torch.allclose(new, old + 0.1 * (source - old), rtol=1e-5, atol=1e-7)


def test_the_critic_targets_read_the_target_encoder_not_the_online_one():
    # The spatial head prepares its combined map once per update: the target must use its own.
    agent = _frozen_resnet_agent(image_head='spatial')
    batch = _feature_batch(agent, np.random.default_rng(7))
    with torch.no_grad():
        # The actor's next action and the online gripper critic's argmax read the online
        # latent of s' (as in HIL-SERL): made independent of it, what is left of y is what the
        # target networks read.
        agent.actor.net[-1].weight.zero_()
        agent.gripper_critic.net[-1].weight.zero_()

    def targets():
        torch.manual_seed(0)  # the same noise in a' ~ pi(s')
        return agent.bootstrap_targets(batch, agent.encoder.prepare())

    def shift(parameters):
        with torch.no_grad():
            for parameter in parameters:
                parameter.add_(torch.randn_like(parameter))

    y, gripper_y = targets()
    shift(agent.encoder.trainable_parameters())
    same_y, same_gripper_y = targets()
    assert torch.equal(y, same_y) and torch.equal(gripper_y, same_gripper_y)
    shift(agent.encoder_target.trainable_parameters())
    moved_y, moved_gripper_y = targets()
    assert not torch.allclose(y, moved_y) and not torch.allclose(gripper_y, moved_gripper_y)
