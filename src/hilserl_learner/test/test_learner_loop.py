"""The learner's loop. It holds `utd_ratio` critic updates per env step in both directions: it
owes them to the data received (what a simulation waits on) and never runs ahead of it, so it
rests while no transitions come (an evaluation round sends none), and then broadcasts no new
weights. Its statistics rows."""
import threading
import time

import numpy as np
import pytest

from hilserl_learner.config import config_from
from hilserl_learner.policy.weights import policy_file_version
from hilserl_learner.replay.buffer import Transition
from hilserl_learner.training.learner import Learner

TINY = {'batch_size': 8, 'latent_dim': 8, 'hidden_dims': [16], 'gripper_hidden_dims': [8],
        'encoder': 'small_conv', 'image_encoder_hidden_dim': 4, 'device': 'cpu',
        'training_starts': 4, 'online_capacity': 100, 'demo_capacity': 50}


def make_learner(run_dir, **values) -> Learner:
    return Learner(config_from({**TINY, 'run_dir': str(run_dir), **values}))


def transition(rng, intervention: bool = False) -> Transition:
    def image():
        return rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    return Transition(rng.normal(size=18).astype(np.float32), image(),
                      rng.uniform(-1, 1, 3).astype(np.float32), int(rng.integers(0, 3)), 0.0,
                      rng.normal(size=18).astype(np.float32), image(), False, False,
                      intervention)


def send(learner: Learner, rng, count: int = 1) -> None:
    for _ in range(count):
        learner.submit(transition(rng), 'actor', 0)
    learner.ingest()


def train_while_owed(learner: Learner) -> None:
    while learner.train_step():
        pass


def test_exactly_utd_ratio_updates_per_env_step_then_rest_until_new_data(tmp_path):
    learner = make_learner(tmp_path, utd_ratio=2.5)
    rng = np.random.default_rng(0)
    for steps in range(1, 11):
        send(learner, rng)
        train_while_owed(learner)
        expected = int(2.5 * steps) if steps >= TINY['training_starts'] else 0
        assert learner.optimization_step == expected, steps
        assert learner.updates_owed() == 0
        # No new transition (as during an evaluation round): no update, however often asked.
        assert not any(learner.train_step() for _ in range(5))
        assert learner.optimization_step == expected


def test_updates_owed_is_what_a_simulation_waits_for(tmp_path):
    learner = make_learner(tmp_path, utd_ratio=3.0)
    rng = np.random.default_rng(1)
    send(learner, rng, 3)
    assert learner.updates_owed() == 0  # training has not started: nothing to wait for
    send(learner, rng, 2)
    assert learner.updates_owed() == 15
    assert learner.train_step()
    assert learner.updates_owed() == 14


def test_a_resting_learner_broadcasts_no_new_weights_version(tmp_path):
    learner = make_learner(tmp_path, utd_ratio=1.0, weights_period_s=0.01,
                           progress_period_s=0.01, stats_period_s=600.0)
    weights, progress = [], []
    stop = threading.Event()
    loop = threading.Thread(target=learner.run, args=(stop, weights.append, lambda s: None,
                                                      lambda *p: progress.append(p)))
    loop.start()
    try:
        rng = np.random.default_rng(2)
        for _ in range(6):
            learner.submit(transition(rng), 'actor', 0)
        wait_until(lambda: weights and weights[-1].optimization_step == 6)
        versions = len(weights)
        # 20 more turns of the loop, each after a weights period: the learner rests (no data).
        turns = len(progress)
        wait_until(lambda: len(progress) >= turns + 20)
        assert len(weights) == versions
    finally:
        stop.set()
        loop.join()
    steps = [w.optimization_step for w in weights]
    assert steps[0] == 0 and steps == sorted(set(steps))  # a new version: new parameters
    assert [w.version for w in weights] == list(range(1, len(weights) + 1))


def test_the_saved_policy_is_the_newest_version_sent(tmp_path):
    """A version names one set of weights, also in the saved file: the main job counts an
    evaluation round of the saved version as the saved policy's."""
    learner = make_learner(tmp_path, utd_ratio=1.0)
    rng = np.random.default_rng(3)
    send(learner, rng, 5)
    train_while_owed(learner)
    sent = learner.snapshot_weights()  # the weights the actors run
    send(learner, rng)
    train_while_owed(learner)  # one update more, not sent yet
    path = learner.save_policy()
    assert policy_file_version(path) == sent.version
    assert path.read_bytes() == sent.data
    assert learner.weights_changed()  # the update is sent with the next version, as before


def wait_until(condition, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, 'timed out'
        time.sleep(0.005)


def test_effective_utd_is_per_env_step_of_the_latest_window_with_steps_and_of_the_run(tmp_path):
    learner = make_learner(tmp_path, utd_ratio=2.5)
    rng = np.random.default_rng(3)
    send(learner, rng, 4)
    train_while_owed(learner)
    first = learner.stats()
    assert first['effective_utd'] == 10 / 4 and first['effective_utd_total'] == 10 / 4
    send(learner, rng)
    train_while_owed(learner)
    second = learner.stats()  # int(2.5 * 5) = 12: 2 updates for this window's one step
    assert second['effective_utd'] == 2.0 and second['effective_utd_total'] == 12 / 5
    resting = learner.stats()  # no steps came (an evaluation round): no rate per step to read
    assert resting['effective_utd'] == 2.0 and resting['updates_per_s'] == 0.0
    assert resting['utd_ratio'] == 2.5 and resting['updates_owed'] == 0


def test_the_actor_loss_terms_are_reported_and_add_up_to_it(tmp_path):
    learner = make_learner(tmp_path, utd_ratio=2.0, actor_update_period=1)
    rng = np.random.default_rng(4)
    assert np.isnan(learner.stats()['actor_q_term'])  # no actor update yet
    for _ in range(6):
        learner.submit(transition(rng, intervention=True), 'actor', 0)  # BC rows
    learner.ingest()
    train_while_owed(learner)
    stats = learner.stats()
    terms = ('actor_entropy_term', 'actor_q_term', 'actor_bc_term', 'entropy', 'temperature')
    assert all(np.isfinite(stats[name]) for name in terms), stats
    assert stats['actor_bc_term'] > 0
    # alpha has taken one temperature step (learning rate 3e-4 on log alpha) since
    assert stats['actor_entropy_term'] == pytest.approx(
        -stats['temperature'] * stats['entropy'], rel=1e-3)
    assert stats['actor_loss'] == pytest.approx(
        stats['actor_entropy_term'] - stats['actor_q_term'] + stats['actor_bc_term'], rel=1e-5,
        abs=1e-6)
