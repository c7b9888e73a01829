"""The train graph split over two hosts, as on a robot computer and a GPU box: the sim,
operator, kinematics and actor in the robot host's network namespace, the learner in the GPU
host's, joined by a veth pair and nothing else (UDP on that link only, no shared memory:
hilserl_testing.two_hosts). Both halves start through the runner. The learner takes the actor's
transitions, and the weights it trains from them come back and drive the actor's episodes; the
link's own counters show the bytes went across it.

As the train graph runs by default, the simulation's clock waits for the learner, so /clock and
/learner_progress cross the link too. Small and fast: 2.5 s episodes, a small policy, rewards
from the simulation (no classifier), no console."""
import time
from collections import Counter

import pytest

from hilserl_bringup.runner import Graph
from hilserl_common.run_layout import RunLayout
from hilserl_learner.replay.journal import episode_rows
from hilserl_testing.nodes import private_ros_domain
from hilserl_testing.train_graph import ROBOT_NODES, running, short_train_arguments, wait_for
from hilserl_testing.two_hosts import NoLoss, two_hosts, why_no_namespaces

pytestmark = [pytest.mark.graph, pytest.mark.filterwarnings('ignore:NO PRETRAINED')]

IMAGE_BYTES = 128 * 128 * 3          # one processed camera image (two per transition)
SILENCE_S = 1.5      # the actor's learner_silence_s in the outage (statistics every 0.5 s)
LOSS = 0.02          # share of the packets each host loses on the link, at random
PAUSED_OUTAGE_S = 2.0  # how long the link stays down once the actor has paused


def split_train_graph(directory, hosts, domain_id, **arguments):
    """The train graph's robot side and its learner, each started in its host by the runner
    (`arguments`: those of short_train_arguments)."""
    arguments = short_train_arguments(directory, **arguments)
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


def log_says(path, text, start: int = 0) -> bool:
    """`text` is in the log at `path` after its first `start` characters."""
    return path.exists() and text in path.read_text()[start:]


PAUSE = 'waiting for the learner'
GOING = 'the learner is there: training episodes go on'


def paused(path) -> bool:
    """The actor's log says it waits for the learner, and not yet that it goes on."""
    text = path.read_text() if path.exists() else ''
    return text.rfind(PAUSE) > text.rfind(GOING)


def log_length(path) -> int:
    return len(path.read_text()) if path.exists() else 0


def journaled_steps(layout: RunLayout) -> Counter:
    """Transitions per episode in the learner's journal (written as it stores them)."""
    return Counter({episode: rows for (_, episode), rows in
                    episode_rows(layout.learner_dir / 'journal').items()})


def journal_holds(layout: RunLayout, lengths: dict) -> bool:
    """The journal has at least `lengths[episode]` steps of each episode."""
    journaled = journaled_steps(layout)
    return all(journaled[episode] >= length for episode, length in lengths.items())


@pytest.mark.timeout(300)
def test_an_outage_longer_than_an_episode_pauses_the_actor_and_loses_no_transition(
        tmp_path, hosts):
    """A link that loses 2% of the packets each way throughout, and whose robot end goes down
    (an unplugged cable) for longer than an episode. The actor finishes the episode under way,
    starts none while the learner is silent, says why, and goes on when the learner is heard
    again; the learner, never restarted, has every step of every episode the actor finished
    (they waited in the link's reliable history), and its weights come back over the mended
    link. The robot side runs as on the real arm, in real time (waiting for the learner, the
    simulation's clock would stop with the link, and with it the actor)."""
    try:
        for host in (hosts.robot, hosts.gpu):
            host.drop_at_random(LOSS)
    except NoLoss as error:
        pytest.skip(str(error))
    layout = RunLayout(tmp_path)
    actor_log = tmp_path / 'logs' / 'actor.log'
    robot, learner = split_train_graph(tmp_path, hosts, private_ros_domain(),
                                       actor={'learner_silence_s': SILENCE_S},
                                       wait_for_learner='false')
    graphs = (learner, robot)
    with running(*graphs):
        # ... and the actor going on: on a lossy link a short silence pauses and resumes it
        # too, and one paused when the link goes down has nothing new to say.
        wait_for(lambda: [r for r in layout.episodes('train') if r['policy_version'] >= 2]
                 and not paused(actor_log),
                 'an episode acted by weights trained on the learner', graphs)
        outage = log_length(actor_log)  # only what the actor logs from the outage on
        hosts.robot.set_link(False)
        try:
            # It says why: no word from the learner, or, once the link's loss is noticed,
            # nothing takes /transitions.
            wait_for(lambda: log_says(actor_log, PAUSE, outage),
                     'the actor to pause for the silent learner', graphs)
            paused_at = len(layout.episodes('train'))
            time.sleep(PAUSED_OUTAGE_S)
            assert len(layout.episodes('train')) == paused_at, 'an episode ran while paused'
        finally:
            hosts.robot.set_link(True)
        before = max(r['policy_version'] for r in layout.episodes('train'))
        wait_for(lambda: [r for r in layout.episodes('train')[paused_at:]
                          if r['policy_version'] > before],
                 'an episode acted by weights trained after the outage', graphs)
        after_pause = actor_log.read_text()[outage:].split(PAUSE, 1)[1]
        assert GOING in after_pause
        # The last steps of the episode just finished may still be on the lossy link (a
        # packet lost is sent again): every step arrives, but not by the time the record is
        # written, so the learner gets the time to take them before the graphs stop.
        finished = {r['episode']: r['length'] for r in layout.episodes('train')}
        wait_for(lambda: journal_holds(layout, finished),
                 'the learner to journal every step of the finished episodes', graphs)
    assert layout.learner_stats()[-1]['transitions_dropped'] == 0
    journaled = journaled_steps(layout)
    assert {episode: journaled[episode] for episode in finished} == finished
