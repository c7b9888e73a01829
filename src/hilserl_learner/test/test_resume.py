"""A learner that stops without warning resumes with the same buffers, networks, optimisers
and counters (the last checkpoint's updates, every transition it had stored)."""
import copy
import logging

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from hilserl_learner.checkpoint.store import NETWORKS
from hilserl_learner.config import config_from
from hilserl_learner.networks.encoder import load_backbone
from hilserl_learner.replay.buffer import Transition
from hilserl_learner.replay.journal import remove_episodes
from hilserl_learner.sac.agent import SACAgent
from hilserl_learner.training.learner import POLICY_FILE, Learner


def transition(rng, intervention=False, last=False):
    image = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    return Transition(rng.normal(size=18).astype(np.float32), image,
                      rng.uniform(-1, 1, 3).astype(np.float32), int(rng.integers(0, 3)),
                      float(last), rng.normal(size=18).astype(np.float32),
                      rng.integers(0, 256, (128, 128, 3), dtype=np.uint8), last, False,
                      intervention)


@pytest.fixture(scope='module')
def backbone():
    with pytest.warns(UserWarning):
        return load_backbone('')


def make_learner(run_dir, backbone, demos, resume=False):
    config = config_from({'batch_size': 8, 'utd_ratio': 2, 'actor_update_period': 2,
                          'latent_dim': 8, 'hidden_dims': [16], 'gripper_hidden_dims': [8],
                          'training_starts': 4, 'device': 'cpu', 'run_dir': str(run_dir),
                          'resume': resume, 'online_capacity': 100, 'demo_capacity': 50})
    return Learner(config, agent=SACAgent(config, backbone=backbone), demos=demos)


def test_resume_restores_buffers_networks_optimisers_and_counters(tmp_path, backbone):
    rng = np.random.default_rng(0)
    demos = [transition(rng, last=i == 2) for i in range(3)]
    learner = make_learner(tmp_path, backbone, demos)
    sent = []
    for i in range(20):
        sent.append(transition(rng, intervention=i % 4 == 0))
        learner.submit(sent[-1], 'a', 0)
    learner.ingest()
    while learner.train_step():
        pass
    assert learner.optimization_step == 40
    learner.checkpoint()
    assert (tmp_path / POLICY_FILE).exists()
    saved_networks = {k: v.clone() for k, v in learner.agent.state_dict().items()}
    saved_optimizer = copy.deepcopy(learner.agent.critic_optimizer.state_dict())
    saved_alpha = learner.agent.temperature.item()
    # Stored after the checkpoint (from a second arm), then the learner dies without another
    # checkpoint.
    for i in range(7):
        sent.append(transition(rng, intervention=i == 0))
        learner.submit(sent[-1], 'b', 0)
    learner.ingest()
    assert learner.stats()['env_steps_by_actor'] == {'a': 20, 'b': 7}
    while learner.train_step():
        pass
    online, demo = learner.online.newest(100), learner.demo.newest(50)

    # In memory only the features (frozen backbone); on disk the images too.
    assert 'image' not in learner.online.data and 'features' in learner.online.data
    journaled = np.concatenate([chunk['next_image'] for chunk in learner.journal.replay()])
    assert np.array_equal(journaled, np.stack([t.next_image for t in sent]))

    resumed = make_learner(tmp_path, backbone, demos, resume=True)
    assert resumed.env_steps == 27 and len(resumed.online) == 27
    assert resumed.env_steps_by_actor == {'a': 20, 'b': 7}
    assert len(resumed.demo) == 3 + 5 + 1
    for name, column in online.items():
        assert np.array_equal(resumed.online.newest(100)[name], column), name
    for name, column in demo.items():
        assert np.array_equal(resumed.demo.newest(50)[name], column), name
    assert resumed.optimization_step == 40 and resumed.actor_updates == 20
    assert any(name.startswith('encoder_target.') for name in saved_networks)
    for name, tensor in resumed.agent.state_dict().items():
        assert torch.equal(tensor, saved_networks[name]), name
    assert resumed.agent.temperature.item() == pytest.approx(saved_alpha)
    state = resumed.agent.critic_optimizer.state_dict()
    assert state['state'][0]['step'] == saved_optimizer['state'][0]['step']
    assert torch.equal(state['state'][0]['exp_avg'], saved_optimizer['state'][0]['exp_avg'])
    # The updates owed to the 7 transitions after the checkpoint are done again.
    assert resumed.updates_owed() == 2 * 27 - 40


def test_a_fresh_start_sets_an_earlier_run_aside_instead_of_mixing_with_it(tmp_path, backbone):
    rng = np.random.default_rng(1)
    learner = make_learner(tmp_path, backbone, [])
    for _ in range(5):
        learner.submit(transition(rng), 'a', 0)
    learner.ingest()
    learner.checkpoint()
    fresh = make_learner(tmp_path, backbone, [], resume=False)
    assert fresh.journal.count == 0 and len(fresh.online) == 0
    archived = list(tmp_path.glob('replaced_*'))
    assert len(archived) == 1 and (archived[0] / 'journal').is_dir()
    assert (archived[0] / 'checkpoint' / 'state.json').exists()


def test_a_checkpoint_without_a_target_encoder_resumes_with_the_online_one(tmp_path, backbone,
                                                                           caplog):
    rng = np.random.default_rng(2)
    learner = make_learner(tmp_path, backbone, [])
    for _ in range(6):
        learner.submit(transition(rng), 'a', 0)
    learner.ingest()
    while learner.train_step():
        pass
    learner.checkpoint()
    online = learner.agent.encoder.state_dict()
    assert any(not torch.equal(tensor, online[name])  # the saved target differs from it
               for name, tensor in learner.agent.encoder_target.state_dict().items())
    # As written before the target encoder existed:
    networks = str(tmp_path / 'checkpoint' / NETWORKS)
    save_file({name: tensor for name, tensor in load_file(networks).items()
               if not name.startswith('encoder_target.')}, networks)
    with caplog.at_level(logging.INFO):
        resumed = make_learner(tmp_path, backbone, [], resume=True)
    assert 'no target encoder' in caplog.text
    assert resumed.optimization_step == learner.optimization_step
    online = resumed.agent.encoder.state_dict()
    for name, tensor in resumed.agent.encoder_target.state_dict().items():
        assert torch.equal(tensor, online[name]), name
        assert torch.equal(online[name], learner.agent.encoder.state_dict()[name]), name


def test_a_learner_resumes_without_the_episodes_removed_from_its_journal(tmp_path, backbone):
    """What the main job does after a mining round: the episodes whose reward was wrong leave
    the journal, and the resumed learner's buffers hold only the others."""
    rng = np.random.default_rng(2)
    demos = [transition(rng, last=True)]
    learner = make_learner(tmp_path, backbone, demos)
    sent = {}
    for episode_id in (4, 5, 6):
        sent[episode_id] = [transition(rng, intervention=i == 0, last=i == 4) for i in range(5)]
        for t in sent[episode_id]:
            learner.submit(t, 'a', episode_id)
    while learner.ingest(limit=7):  # journal chunks that cut across episodes
        pass
    learner.checkpoint()

    assert remove_episodes(tmp_path / 'journal', [5])['removed'] == 5
    resumed = make_learner(tmp_path, backbone, demos, resume=True)
    kept = sent[4] + sent[6]
    assert len(resumed.online) == 10 and len(resumed.demo) == 1 + 2
    assert np.array_equal(resumed.online.newest(10)['reward'], [t.reward for t in kept])
    journaled = np.concatenate([c['next_image'] for c in resumed.journal.replay()])
    assert np.array_equal(journaled, np.stack([t.next_image for t in kept]))
