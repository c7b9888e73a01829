"""The train graph split over two hosts, as on a robot computer and a GPU box: the sim,
operator, kinematics and actor in the robot host's network namespace, the learner in the GPU
host's, joined by a veth pair and nothing else (UDP on that link only, no shared memory:
hilserl_testing.two_hosts). Both halves start through the runner. The learner takes the actor's
transitions, and the weights it trains from them come back and drive the actor's episodes; the
link's own counters show the bytes went across it.

As the train graph runs by default, the simulation's clock waits for the learner, so /clock and
/learner_progress cross the link too. Small and fast: 2.5 s episodes, a small policy, rewards
from the simulation (no classifier), no console."""
import pytest

from hilserl_bringup.runner import Graph
from hilserl_common.run_layout import RunLayout
from hilserl_testing.nodes import private_ros_domain
from hilserl_testing.train_graph import ROBOT_NODES, running, short_train_arguments, wait_for
from hilserl_testing.two_hosts import two_hosts, why_no_namespaces

pytestmark = [pytest.mark.graph, pytest.mark.filterwarnings('ignore:NO PRETRAINED')]

IMAGE_BYTES = 128 * 128 * 3          # one processed camera image (two per transition)


def split_train_graph(directory, hosts, domain_id):
    """The train graph's robot side and its learner, each started in its host by the runner."""
    arguments = short_train_arguments(directory)
    robot = Graph('train', arguments, only=ROBOT_NODES, quiet=True,
                  prefix=hosts.robot.ros_command([], domain_id))
    learner = Graph('train', arguments, only=['learner'], quiet=True,
                    prefix=hosts.gpu.ros_command([], domain_id))
    return robot, learner


@pytest.fixture
def hosts():
    why = why_no_namespaces()
    if why:
        pytest.skip(f'two hosts cannot be made here: {why}')
    with two_hosts() as made:
        yield made


@pytest.mark.timeout(240)
def test_the_learner_on_another_host_trains_the_actor_over_the_link(tmp_path, hosts):
    layout = RunLayout(tmp_path)
    robot, learner = split_train_graph(tmp_path, hosts, private_ros_domain())
    graphs = (learner, robot)
    with running(*graphs):
        # Weights the learner trained from the link's transitions (version 1 is its initial
        # network, sent before any update) drive a whole episode of the actor.
        trained = wait_for(lambda: [r for r in layout.episodes('train')
                                    if r['policy_version'] >= 2],
                           'an episode acted by weights trained on the learner', graphs)
        first = layout.episodes('train')[0]
        stats = wait_for(lambda: [s for s in layout.learner_stats()
                                  if s['env_steps'] >= first['length']
                                  and s['weights_version'] >= trained[0]['policy_version']],
                         'the learner statistics to count the first episode', graphs)[-1]
    assert stats['transitions_dropped'] == 0 and stats['optimization_step'] > 0, stats
    # Across the link, by its own counters: the transitions' images one way, at least one
    # weights message (the policy file holds the same bytes) the other.
    robot_sent, gpu_sent = hosts.robot.link_bytes()[1], hosts.gpu.link_bytes()[1]
    assert robot_sent >= stats['env_steps'] * 2 * IMAGE_BYTES, (robot_sent, stats['env_steps'])
    assert gpu_sent >= layout.policy_path.stat().st_size, gpu_sent
