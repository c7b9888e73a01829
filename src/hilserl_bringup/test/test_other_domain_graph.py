"""Who may talk to the learner: only a graph on its ROS domain. The short train graph's robot
side (hilserl_testing.train_graph) on one domain and its learner on another, on one host: the
actor runs whole episodes and sends their transitions (a stand-in takes them on its domain),
the learner runs and writes statistics, and neither hears the other (no transition taken, no
weights beyond the actor's start)."""
import random

import pytest

from hilserl_bringup.runner import Graph
from hilserl_common.run_layout import RunLayout
from hilserl_testing.nodes import WORKSPACE_DOMAIN_ID, ProbeNode, private_ros_domain
from hilserl_testing.train_graph import ROBOT_NODES, running, short_train_arguments, wait_for

pytestmark = [pytest.mark.graph, pytest.mark.filterwarnings('ignore:NO PRETRAINED')]

EPISODES = 2  # whole episodes the actor sends while the learner listens elsewhere


@pytest.mark.timeout(180)
def test_a_graph_on_another_domain_feeds_no_transitions_and_gets_no_weights(tmp_path):
    robot_domain = private_ros_domain()
    learner_domain = random.SystemRandom().choice(
        [d for d in range(1, 101) if d not in (robot_domain, WORKSPACE_DOMAIN_ID)])
    layout = RunLayout(tmp_path)
    arguments = short_train_arguments(tmp_path)
    robot = Graph('train', arguments, only=ROBOT_NODES, quiet=True)
    learner = Graph('train', arguments, only=['learner'], quiet=True,
                    prefix=['env', f'ROS_DOMAIN_ID={learner_domain}'])
    graphs = (learner, robot)
    # The actor's transitions go to a stand-in on its own domain (an actor sends nothing while
    # nothing takes them): the learner, on the other, must not get them.
    stand_in = ProbeNode('learner_stand_in')
    stand_in.take_transitions()
    stand_in.spin_in_background()
    try:
        with running(*graphs):
            wait_for(lambda: len(layout.episodes('train')) >= EPISODES,
                     f'{EPISODES} episodes of the actor', graphs)
            # Statistics the learner wrote after those episodes' transitions were sent.
            seen = len(layout.learner_stats())
            stats = wait_for(lambda: layout.learner_stats()[seen + 1:],
                             'the learner statistics after the episodes', graphs)[-1]
    finally:
        stand_in.close()
    assert stats['env_steps'] == 0 and stats['transitions_dropped'] == 0, stats
    versions = {r['policy_version'] for r in layout.episodes('train')}
    assert versions == {0}, versions  # the actor starts without weights and got none
