"""Policy weights as the actor receives them: safetensors bytes + sha256 -> the same actions."""
import numpy as np
import pytest
import torch

from hilserl_learner.config import config_from
from hilserl_learner.networks.encoder import load_backbone
from hilserl_learner.policy.policy import Policy
from hilserl_learner.policy.weights import WeightsError, read_metadata, serialize_policy
from hilserl_learner.sac.agent import SACAgent

# fp32 on both sides: the test is about the weights arriving exactly.
SMALL = {'latent_dim': 16, 'hidden_dims': [32, 32], 'gripper_hidden_dims': [16],
         'precision': 'fp32',
         'device': 'cpu'}


@pytest.fixture(scope='module')
def backbone():
    with pytest.warns(UserWarning):
        return load_backbone('')


@pytest.fixture(scope='module')
def agent(backbone):
    return SACAgent(config_from(SMALL), backbone=backbone)


def observation(seed):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=18).astype(np.float32),
            rng.integers(0, 256, (128, 128, 3), dtype=np.uint8))


def broadcast(agent, version=1):
    return serialize_policy(agent.policy_state_dict(), agent.config,
                            agent.encoder.backbone.identity, version, 123)


def test_the_actor_gets_the_learners_actions_from_the_bytes(agent, backbone):
    data, digest = broadcast(agent)
    assert data[:8] != b'\x80\x04' and b'policy_config' in data  # safetensors, not a pickle
    policy = Policy.from_weights(data, digest, backbone=backbone)
    assert policy.version == 1 and policy.optimization_step == 123
    for seed in range(3):
        state, image = observation(seed)
        action, gripper = policy.act(state, image, deterministic=True)
        expected, expected_gripper = agent.act(torch.from_numpy(state)[None],
                                               image=torch.from_numpy(image)[None],
                                               deterministic=True)
        assert np.allclose(action, expected[0].numpy(), atol=1e-6)
        assert gripper == int(expected_gripper[0])
        assert action.shape == (3,) and np.all(np.abs(action) <= 1.0)
    stochastic = [policy.act(*observation(0))[0] for _ in range(2)]
    assert not np.allclose(*stochastic)


def test_only_what_the_actor_needs_is_sent(agent):
    data, _ = broadcast(agent)
    names = set(read_metadata(data))
    assert 'backbone_identity' in names
    state = agent.policy_state_dict()
    assert not any(n.startswith('encoder.backbone.') for n in state)  # frozen: not sent
    assert not any('critic_target' in n or n.startswith('critic.') for n in state)
    assert any(n.startswith('gripper_critic.') for n in state)


def test_new_weights_replace_the_old_ones(agent, backbone):
    policy = Policy.from_weights(*broadcast(agent), backbone=backbone)
    with torch.no_grad():
        agent.actor.net[-1].bias.add_(0.5)
    policy.load_weights(*broadcast(agent, version=2))
    assert policy.version == 2
    assert torch.equal(policy.actor.net[-1].bias, agent.actor.net[-1].bias)
    with torch.no_grad():
        agent.actor.net[-1].bias.sub_(0.5)


def test_corrupted_or_foreign_weights_are_refused(agent, backbone):
    data, digest = broadcast(agent)
    corrupted = bytearray(data)
    corrupted[-1] ^= 0xFF
    with pytest.raises(WeightsError, match='checksum'):
        Policy.from_weights(bytes(corrupted), digest, backbone=backbone)
    with pytest.warns(UserWarning):
        other_backbone = load_backbone('', seed=5)
    with pytest.raises(WeightsError, match='image backbone'):
        Policy.from_weights(data, digest, backbone=other_backbone)
    import hashlib
    garbage = b'\x10\x00\x00\x00\x00\x00\x00\x00{"not": "valid"}'
    with pytest.raises(WeightsError):
        Policy.from_weights(garbage, hashlib.sha256(garbage).hexdigest(), backbone=backbone)


def test_the_saved_policy_file_loads_and_is_checked(agent, backbone, tmp_path):
    data, digest = broadcast(agent)
    (tmp_path / 'policy.safetensors').write_bytes(data)
    (tmp_path / 'policy.safetensors.sha256').write_text(digest + '\n')
    policy = Policy.from_file(str(tmp_path / 'policy.safetensors'), backbone=backbone)
    assert policy.version == 1
    (tmp_path / 'policy.safetensors').write_bytes(data[:-1] + b' ')
    with pytest.raises(WeightsError, match='checksum'):
        Policy.from_file(str(tmp_path / 'policy.safetensors'), backbone=backbone)
    with pytest.raises(WeightsError, match='cannot read'):
        Policy.from_file(str(tmp_path / 'missing.safetensors'), backbone=backbone)
