"""Actors come and go while the learner runs on: an actor killed mid-episode (SIGKILL, as a
crash) and a replacement started beside the same simulation (same robot and run, so the id of
the episode its predecessor died in; the same actor_id, or a new one). Nothing waits on a
handshake: the replacement gets the learner's newest weights from /policy_weights (reliable,
transient local) and acts with them in its first episode; the learner, not restarted, takes the
dead actor's half episode and every step of the replacement's, dropping none.

The short train graph (hilserl_testing.train_graph) on one host, started in three parts (the
simulation's side, the actor, the learner) so that the actor alone can die."""
import copy
from pathlib import Path

import pytest
import yaml

from hilserl_bringup.runner import Graph
from hilserl_common.run_layout import RunLayout
from hilserl_testing.nodes import private_ros_domain, unclean_stops
from hilserl_testing.train_graph import (
    ROBOT_NODES,
    SHORT_TRAIN,
    short_train_arguments,
    wait_for,
)

pytestmark = [pytest.mark.graph, pytest.mark.filterwarnings('ignore:NO PRETRAINED')]

SIDE_NODES = [n for n in ROBOT_NODES if n != 'actor']


def named(arguments: dict, actor_id: str) -> dict:
    """The arguments with the actor named `actor_id` (empty: its namespace, as before)."""
    if not actor_id:
        return arguments
    overrides = copy.deepcopy(SHORT_TRAIN)
    overrides['/**/actor']['ros__parameters']['actor_id'] = actor_id
    path = Path(arguments['output_dir']) / 'replacement.yaml'
    path.write_text(yaml.safe_dump(overrides))
    return {**arguments, 'config_file': str(path)}


def steps_written(layout: RunLayout) -> int:
    """Transitions of the train episodes the actor wrote (one per step)."""
    return sum(r['length'] for r in layout.episodes('train'))


def episodes_written(layout: RunLayout) -> int:
    return len(layout.episodes('train')) + len(layout.episodes('eval'))


def mid_episode(layout: RunLayout):
    """Learner statistics that count steps of an episode whose record is not written yet: the
    actor is in that episode now (the statistics are older than the episode file)."""
    stats = layout.learner_stats()
    return stats and stats[-1]['weights_version'] >= 2 and \
        stats[-1]['env_steps'] > steps_written(layout) and stats[-1]


@pytest.mark.timeout(240)
@pytest.mark.parametrize('actor_id', ['', 'replacement'], ids=['same_actor_id', 'new_actor_id'])
def test_a_crashed_actors_replacement_is_fed_weights_and_its_steps_are_taken(tmp_path, actor_id):
    private_ros_domain()
    layout = RunLayout(tmp_path)
    arguments = short_train_arguments(tmp_path)
    side = Graph('train', arguments, only=SIDE_NODES, quiet=True)
    learner = Graph('train', arguments, only=['learner'], quiet=True)
    crashed = Graph('train', arguments, only=['actor'], quiet=True)
    replacement = Graph('train', named(arguments, actor_id), only=['actor'], quiet=True)
    try:
        learner.start()
        side.start()
        crashed.start()
        # Killed while the learner holds part of an episode, after weights it trained.
        before = wait_for(lambda: mid_episode(layout), 'the actor in an episode, with trained '
                          'weights on the learner', (learner, side, crashed))
        crashed.nodes[0].process.kill()
        crashed.nodes[0].process.wait()
        dead_episode = episodes_written(layout)
        half = before['env_steps'] - steps_written(layout)  # at least this much of it taken
        replacement.start()
        first = wait_for(lambda: [r for r in layout.episodes('train')
                                  if r['episode'] >= dead_episode],
                         "the replacement's first episode", (learner, side, replacement))[0]
        # Every step of it reaches the learner, beside the dead actor's half episode.
        through_first = half + sum(r['length'] for r in layout.episodes('train')
                                   if r['episode'] <= first['episode'])
        stats = wait_for(lambda: [s for s in layout.learner_stats()
                                  if s['env_steps'] >= through_first],
                         "the learner statistics to count the replacement's first episode",
                         (learner, side, replacement))[-1]
        learner_alive = learner.nodes[0].process.poll() is None
    finally:
        for graph in (replacement, crashed, side, learner):
            graph.stop()
    failures = unclean_stops(side.nodes + replacement.nodes + learner.nodes)
    assert not failures, failures
    assert first['episode'] == dead_episode, (first, dead_episode)  # the id reused
    assert first['policy_version'] >= before['weights_version'], (first, before)
    assert stats['transitions_dropped'] == 0, stats
    assert learner_alive and (tmp_path / 'logs' / 'learner.log').read_text().count(
        'learner on ') == 1, 'the learner restarted'
