"""SAC + RLPD learns, from a few demos and its own experience, a small task a random policy
cannot solve: move a point to a goal and close the gripper there (sparse reward, like a grasp).
"""
import numpy as np
import pytest
import torch

from hilserl_learner.config import config_from
from hilserl_learner.ingest.validation import GRIPPER_CLOSE, GRIPPER_STAY
from hilserl_learner.replay.buffer import Transition
from hilserl_learner.sac.agent import stored_features
from hilserl_learner.training.learner import Learner

GOAL = np.array([0.4, 0.4, 0.4], np.float32)
STEP = 0.1        # metres per unit action
HORIZON = 10
IMAGE = np.zeros((128, 128, 3), np.uint8)


class ReachAndClose:
    """Point in 3-D; reward 1 (and the episode ends) when the gripper closes within 0.1 of the
    goal on every axis; time limit HORIZON steps (truncation)."""

    def __init__(self, rng):
        self.rng = rng

    def reset(self):
        self.position = self.rng.uniform(-0.1, 0.1, 3).astype(np.float32)
        self.t = 0
        return self.observation()

    def observation(self):
        state = np.zeros(18, np.float32)
        state[:3] = self.position
        state[3:6] = GOAL - self.position
        return state

    def step(self, action, gripper):
        self.position = self.position + STEP * np.clip(action, -1, 1)
        self.t += 1
        success = gripper == GRIPPER_CLOSE and np.all(np.abs(self.position - GOAL) < 0.1)
        return self.observation(), float(success), bool(success), self.t >= HORIZON


def scripted(state):
    action = np.clip(state[3:6] / STEP, -1, 1)
    near = np.all(np.abs(state[3:6] - STEP * action) < 0.1)
    return action.astype(np.float32), GRIPPER_CLOSE if near else GRIPPER_STAY


def rollout(env, choose):
    state, transitions, total = env.reset(), [], 0.0
    while True:
        action, gripper = choose(state)
        next_state, reward, terminated, truncated = env.step(action, gripper)
        transitions.append(Transition(state, IMAGE, action, gripper, reward, next_state, IMAGE,
                                      terminated, truncated and not terminated))
        total += reward
        state = next_state
        if terminated or truncated:
            return transitions, total


def success_rate(env, choose, episodes=20):
    return np.mean([rollout(env, choose)[1] for _ in range(episodes)])


@pytest.fixture(scope='module')
def learner(tmp_path_factory):
    config = config_from({
        'batch_size': 32, 'utd_ratio': 2, 'actor_update_period': 1, 'latent_dim': 32,
        'hidden_dims': [64, 64], 'gripper_hidden_dims': [32], 'discount': 0.9,
        'training_starts': 30, 'temperature_init': 0.05, 'image_dropout': 0.0,
        'run_dir': str(tmp_path_factory.mktemp('run')), 'device': 'cpu',
        'online_capacity': 5000, 'demo_capacity': 2000, 'state_min_std': 0.01})
    torch.manual_seed(0)
    with pytest.warns(UserWarning):
        return Learner(config)


def test_sac_rlpd_with_demos_learns_what_a_random_policy_cannot(learner):
    env = ReachAndClose(np.random.default_rng(0))
    random_policy = lambda s: (env.rng.uniform(-1, 1, 3).astype(np.float32),  # noqa: E731
                               int(env.rng.integers(0, 3)))
    assert success_rate(env, random_policy) == 0.0
    demos = [t for _ in range(5) for t in rollout(env, scripted)[0]]
    learner.add_demos(demos)

    features = stored_features(learner.agent.features(IMAGE[None]))

    def policy(deterministic):
        def choose(state):
            action, gripper = learner.agent.act(torch.from_numpy(state)[None], features=features,
                                                deterministic=deterministic)
            return action[0].numpy(), int(gripper[0])
        return choose

    for episode in range(60):
        for t in rollout(env, policy(False))[0]:
            learner.submit(t, 'test', episode)
            learner.ingest()
            while learner.train_step():
                pass
        if episode % 5 == 4 and success_rate(env, policy(True), 10) >= 0.9:
            print(f'learned after {episode + 1} episodes, {learner.env_steps} steps, '
                  f'{learner.optimization_step} updates')
            break
    # A random policy never succeeds (checked above); the learned one mostly does.
    assert success_rate(env, policy(True), 20) >= 0.6, learner.stats()
    # True UTD: every update was owed to received data.
    assert learner.optimization_step == 2 * learner.env_steps


def test_states_are_standardised_by_the_data_and_the_statistics_travel_with_the_weights(
        learner):
    """(after the learning test) fitted at the first update from what the buffers held."""
    from hilserl_learner.policy.policy import Policy
    encoder = learner.agent.encoder
    states = np.concatenate([b.data['state'][:len(b)] for b in (learner.online, learner.demo)])
    assert not torch.allclose(encoder.state_std, torch.ones(18))
    # positions and offsets vary; the unused state values keep the floor
    assert torch.all(encoder.state_std[6:] == 0.01)
    first = states[:30]  # a sanity check of the scale: the fit used real states of this task
    assert np.abs((first[:, :3] - encoder.state_mean[:3].numpy())
                  / encoder.state_std[:3].numpy()).max() < 10
    snapshot = learner.snapshot_weights()
    policy = Policy.from_weights(snapshot.data, snapshot.sha256)
    assert torch.equal(policy.encoder.state_mean, encoder.state_mean)
    assert torch.equal(policy.encoder.state_std, encoder.state_std)


def test_without_a_floor_the_state_is_left_as_it_is(tmp_path):
    """state_min_std 0 (the default): raw states, no statistics fitted."""
    config = config_from({'batch_size': 4, 'latent_dim': 8, 'hidden_dims': [8],
                          'gripper_hidden_dims': [8], 'training_starts': 4, 'utd_ratio': 1,
                          'encoder': 'small_conv', 'image_encoder_hidden_dim': 4,
                          'run_dir': str(tmp_path), 'device': 'cpu'})
    learner = Learner(config)
    env = ReachAndClose(np.random.default_rng(1))
    for t in rollout(env, scripted)[0] * 2:
        learner.submit(t, 'test', 0)
    learner.ingest()
    assert learner.train_step()
    assert torch.equal(learner.agent.encoder.state_std, torch.ones(18))
    assert torch.equal(learner.agent.encoder.state_mean, torch.zeros(18))
