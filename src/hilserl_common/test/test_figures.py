"""The run's shared figures: the Wilson interval of a success rate, against values worked out
by hand from (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n), z = 1.96; shares, moving
figures, evaluation rounds and the learner's figures over a window."""
import pytest

from hilserl_common.figures import (
    evaluation_round,
    interval_text,
    intervention_share,
    mean_return,
    moving,
    round_interval,
    success_interval,
    success_share,
    training_text,
    updates_owed,
    updates_per_env_step,
)


@pytest.mark.parametrize('successes, episodes, low, high', [
    (8, 10, 0.4902, 0.9433),    # z²/n = 0.38416: centre 0.7167, half-width 0.2266
    (16, 20, 0.5840, 0.9193),   # the same rate over twice the episodes: narrower
    (10, 20, 0.2993, 0.7007),   # symmetric about 50%
    (0, 20, 0.0, 0.1611),       # none: still not certainly 0
    (20, 20, 0.8389, 1.0),      # all: still not certainly 1
])
def test_the_success_interval_is_wilsons(successes, episodes, low, high):
    assert success_interval(successes, episodes) == pytest.approx((low, high), abs=5e-5)


@pytest.mark.parametrize('episodes', [10, 20, 30, 50])
def test_the_interval_holds_the_rate_itself_exactly(episodes):
    """A report draws the interval as error bars about the rate: neither may be negative."""
    for successes in range(episodes + 1):
        low, high = success_interval(successes, episodes)
        assert low <= successes / episodes <= high, (successes, episodes, low, high)


def test_no_episodes_have_no_interval_and_a_round_record_has_its_own():
    assert success_interval(0, 0) is None and interval_text(None) == '—'
    record = {'episodes': 10, 'success_rate': 0.8}  # an eval_rounds.jsonl line
    assert round_interval(record) == success_interval(8, 10)
    assert interval_text(round_interval(record)) == '49-94%'


def test_the_intervention_share_counts_steps_not_episodes():
    episodes = [{'length': 90, 'intervention_steps': 9}, {'length': 10, 'intervention_steps': 10}]
    assert intervention_share(episodes) == pytest.approx(0.19)  # the mean of rates: 55%
    assert intervention_share([]) is None


def test_moving_figures_are_trailing_and_shorter_at_the_start():
    episodes = [{'return': r} for r in (1, 2, 3, 4)]
    assert moving(mean_return, episodes, window=2) == [1, 1.5, 2.5, 3.5]


def test_the_training_text_covers_the_last_window():
    episodes = [{'success': i >= 2, 'length': 10, 'intervention_steps': 10 * (i < 2)}
                for i in range(4)]
    assert success_share(episodes) == 0.5
    assert training_text(episodes, window=2) == 'last 2: success 100%, interventions 0%'
    assert training_text(episodes) == 'last 4: success 50%, interventions 50%'
    assert training_text([]) == ''


def stats(*rows):
    return [{'optimization_step': u, 'env_steps': s} for u, s in rows]


def test_updates_per_env_step_reach_back_past_a_window_without_steps():
    rows = stats((0, 0), (130, 10), (260, 20)) + stats(*[(300, 20)] * 5)
    assert updates_per_env_step(rows, rows=2) == 17.0   # (300 - 130) / (20 - 10)
    assert updates_per_env_step(rows, rows=10) == 15.0  # from the first row
    assert updates_per_env_step(stats((5, 0), (9, 0))) is None
    assert updates_per_env_step([]) is None


def test_a_learner_ahead_of_its_rate_owes_nothing():
    assert updates_owed({'updates_owed': -1474}) == 0
    assert updates_owed({'updates_owed': 12}) == 12


def test_an_evaluation_round_has_its_rate_interval_and_time_to_success():
    stamps = {'length': 100, 'start_s': 0.0, 'end_s': 10.0}  # 10 Hz
    records = [{'success': True, 'steps_to_success': 30, 'policy_version': 4, **stamps},
               {'success': False, 'steps_to_success': None, 'policy_version': 4, **stamps},
               {'success': True, 'steps_to_success': 50, 'policy_version': 5}]  # no stamps
    figures = evaluation_round(records)
    assert figures['episodes'] == 3 and figures['success_rate'] == pytest.approx(2 / 3)
    assert figures['success_interval'] == [round(b, 4) for b in success_interval(2, 3)]
    assert figures['mean_steps_to_success'] == 40 and figures['policy_version'] == 5
    assert figures['mean_time_to_success_s'] == pytest.approx(3.0)  # the stamped one only
