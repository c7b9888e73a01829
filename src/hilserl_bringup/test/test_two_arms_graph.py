"""Two simulated arms, one learner: two robot sides of the short train graph
(hilserl_testing.train_graph), each in its own robot namespace, output folder and simulated
clock (`clock:=`), and one learner that both feed. As in a default training run the
simulations' clocks wait for the learner, so each publishes a clock: on one /clock the two
would drag each other's time back and forth. Both actors act with weights the learner trained
on both arms' transitions, each keeps its 10 Hz on its own clock, and the learner's journal
holds every step of every finished episode of each, under each actor's id."""
import statistics
from collections import Counter

import pytest

from hilserl_bringup.runner import Graph
from hilserl_common.run_layout import RunLayout
from hilserl_learner.replay.journal import episode_rows
from hilserl_testing.nodes import private_ros_domain
from hilserl_testing.train_graph import ROBOT_NODES, running, short_train_arguments, wait_for

pytestmark = [pytest.mark.graph, pytest.mark.filterwarnings('ignore:NO PRETRAINED')]

ARMS = ('arm_a', 'arm_b')
TRAINED_EPISODES = 2  # per arm, acted by weights the learner trained


def journaled_steps(layout: RunLayout) -> Counter:
    """Transitions per (actor, episode) in the learner's journal."""
    return episode_rows(layout.learner_dir / 'journal')


def trained(layout: RunLayout) -> list:
    return [r for r in layout.episodes('train') if r['policy_version'] >= 2]


@pytest.mark.timeout(300)
def test_two_simulated_arms_on_their_own_clocks_train_one_learner(tmp_path):
    private_ros_domain()
    learner = Graph('train', short_train_arguments(tmp_path), only=['learner'], quiet=True)
    arms = {}
    for arm in ARMS:
        directory = tmp_path / arm
        directory.mkdir()
        arms[arm] = Graph('train', short_train_arguments(directory, robot=arm,
                                                         clock=f'/{arm}/clock'),
                          only=ROBOT_NODES, quiet=True)
    graphs = (learner, *arms.values())
    layouts = {arm: RunLayout(tmp_path / arm) for arm in ARMS}
    with running(*graphs):
        for arm in ARMS:
            wait_for(lambda arm=arm: len(trained(layouts[arm])) >= TRAINED_EPISODES,
                     f'{TRAINED_EPISODES} episodes of {arm} acted by trained weights', graphs)
        # An episode's record can be written before its last steps reach the learner.
        lengths = {(arm, r['episode']): r['length']
                   for arm in ARMS for r in layouts[arm].episodes('train')}
        wait_for(lambda: all(journaled_steps(RunLayout(tmp_path))[key] >= length
                             for key, length in lengths.items()),
                 'the learner to journal every step of the finished episodes', graphs)
    journaled = journaled_steps(RunLayout(tmp_path))
    assert {actor for actor, _ in journaled} == set(ARMS)
    for arm in ARMS:
        finished = layouts[arm].episodes('train')
        assert {r['episode']: journaled[arm, r['episode']] for r in finished} == {
            r['episode']: r['length'] for r in finished}, arm
        # its own clock: a loop at 10 Hz of sim time, not time dragged by the other arm's.
        # The median: an arm's first episode, while three graphs start on two cores, once
        # had one 238 ms step (8.9 Hz over the episode).
        rates = [r['policy_hz'] for r in finished]
        assert 9.0 <= statistics.median(rates) <= 11.0, (arm, rates)
    assert RunLayout(tmp_path).learner_stats()[-1]['transitions_dropped'] == 0
