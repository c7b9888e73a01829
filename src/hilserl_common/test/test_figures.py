"""The run's shared figures: the Wilson interval of a success rate, against values worked out
by hand from (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n), z = 1.96."""
import pytest

from hilserl_common.figures import (
    interval_text,
    intervention_share,
    round_interval,
    success_interval,
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


def test_no_episodes_have_no_interval_and_a_round_record_has_its_own():
    assert success_interval(0, 0) is None and interval_text(None) == '—'
    record = {'episodes': 10, 'success_rate': 0.8}  # an eval_rounds.jsonl line
    assert round_interval(record) == success_interval(8, 10)
    assert interval_text(round_interval(record)) == '49-94%'


def test_the_intervention_share_counts_steps_not_episodes():
    episodes = [{'length': 90, 'intervention_steps': 9}, {'length': 10, 'intervention_steps': 10}]
    assert intervention_share(episodes) == pytest.approx(0.19)  # the mean of rates: 55%
    assert intervention_share([]) is None
