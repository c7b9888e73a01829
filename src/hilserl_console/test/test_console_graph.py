"""The console on the simulated train graph (sim, kinematics, simulated operator, reward
classifier, actor and console as real processes, started through the runner), its page driven
in a real headless Chromium (Debian's chromium and chromedriver, installed by scripts/setup).

The console is bound off localhost (0.0.0.0) with a known token, so one graph shows both sides:
the page (opened with the token) may command, a request without it is refused. The classifier
is a real one with an untrained head: its probabilities mean nothing, and a reward gate set out
of the arm's reach keeps them from ending episodes, so every episode runs its full length unless
a button ends it.
"""
import json
import re
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import pytest
import yaml
from sensor_msgs.msg import JointState

from hilserl_bringup.runner import Graph, default_config_dir
from hilserl_common import qos
from hilserl_common.run_layout import RunLayout
from hilserl_console.access import TOKEN_HEADER
from hilserl_testing.browser import NoBrowser, headless_chromium
from hilserl_testing.nodes import ProbeNode, stop_process, unclean_stops
from reward_classifier.model import build_classifier, save_classifier

pytestmark = [pytest.mark.graph, pytest.mark.filterwarnings('ignore:NO PRETRAINED')]

CONTROL_TIME_S = 3.0
MAX_STEPS = 30                     # CONTROL_TIME_S at the task's 10 Hz
TOKEN = 'console-test-token'
NODES = ['sim', 'kinematics', 'operator', 'reward_classifier', 'actor', 'console']
OVERRIDES = {
    # The untrained classifier says "success" at random, and a random policy's closing jaws
    # pass through the gate's gripper range (seen: an episode ended at step 14). A gate height
    # out of the arm's reach (1 m) refuses every success, so only a button ends an episode.
    '/**': {'ros__parameters': {'control_time_s': CONTROL_TIME_S,
                                'gate_min_ee_height_m': 1.0}},
    '/**/console': {'ros__parameters': {'token': TOKEN}},
    # The classifier, the sim and a browser share 2 loaded cores here: inputs arrive late at
    # times, and an episode that paused for each late reward would take minutes.
    '/**/actor': {'ros__parameters': {'observation_max_age_s': 1.0}},
    # the operator stays off: no intervention ends or steers an episode here
    '/**/operator': {'ros__parameters': {'episode_correction_probability': 0.0}},
}
SIM_CLOCK_RATE_HZ = yaml.safe_load((Path(default_config_dir()) / 'sim.yaml').read_text())[
    '/**/sim']['ros__parameters']['clock_rate_hz']
WAIT_S = 120.0                     # a loaded 2-core machine: generous, on conditions only


def browser():
    """A test that cannot drive the page fails, naming what is missing (never skips)."""
    try:
        return headless_chromium()
    except NoBrowser as error:
        pytest.fail(str(error))


class JointProbe(ProbeNode):
    """The follower's joints and the actor's commands, as the test sees them."""

    def __init__(self, namespace):
        super().__init__('console_probe', namespace)
        self.lock = threading.Lock()
        self.joints, self.commands = [], []
        self.node.create_subscription(JointState, 'joint_states', lambda m: self._add(
            self.joints, m.position), qos.SENSOR_RELIABLE)
        self.node.create_subscription(JointState, 'joint_commands', lambda m: self._add(
            self.commands, m.position), qos.COMMANDS)
        self.spin_in_background()

    def _add(self, kept, position):
        with self.lock:
            kept.append((time.monotonic(), np.array(position)))

    def since(self, kept, start_s):
        with self.lock:
            return [p for t, p in kept if t >= start_s]


def settled(probe, window_s=0.5, tolerance_rad=0.003) -> bool:
    """The joints moved less than `tolerance_rad` over the last `window_s`."""
    recent = probe.since(probe.joints, time.monotonic() - window_s)
    return len(recent) > 3 and np.abs(np.array(recent) - recent[0]).max() < tolerance_rad


def wait_for(predicate, what, graph, timeout=WAIT_S, stopped=()):
    """The predicate's first true value; fails when a required node (other than those the test
    `stopped`) exits meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        dead = [n for n in graph.nodes if n.spec.required and n.spec.name not in stopped
                and n.process.poll() is not None]
        assert not dead, f'{dead[0].spec.name} exited with code {dead[0].process.returncode}'
        time.sleep(0.1)
    raise AssertionError(f'waited {timeout:.0f} s for {what}')


@pytest.fixture(scope='module')
def console(tmp_path_factory):
    directory = tmp_path_factory.mktemp('console_graph')
    save_classifier(build_classifier(), directory / 'reward_classifier', threshold=0.5,
                    metrics={})
    overrides = directory / 'overrides.yaml'
    overrides.write_text(yaml.safe_dump(OVERRIDES))
    robot = f'c{uuid.uuid4().hex[:8]}'
    graph = Graph('train', {'output_dir': str(directory), 'config_file': str(overrides),
                            'robot': robot, 'wait_for_learner': 'false', 'console_port': '0',
                            'console_address': '0.0.0.0'}, only=NODES, quiet=True)
    probe = JointProbe('/' + robot)
    probe.take_transitions()  # no learner here
    graph.start()
    driver = None
    try:
        log = directory / 'logs' / 'console.log'
        found = wait_for(lambda: log.exists() and re.search(r'http://\S+:(\d+)/\?token=(\S+)',
                                                            log.read_text()),
                         'the console to say where it serves', graph)
        port, token = int(found.group(1)), found.group(2)
        assert token == TOKEN
        driver = browser()
        driver.get(f'http://127.0.0.1:{port}/?token={TOKEN}')
        yield graph, probe, driver, port, RunLayout(directory)
    finally:
        if driver is not None:
            driver.quit()
        probe.close()
        graph.stop()
    # the classifier was stopped by a test (Ctrl-C: code 0 too)
    failures = unclean_stops(graph.nodes)
    assert not failures, failures


def page(driver, script):
    return driver.execute_script('return ' + script)


def actor_status(driver):
    return page(driver, 'window.consoleData.status || {}')


def records(layout):
    return layout.episodes('train')


def mid_episode(driver, graph, layout):
    """Wait for the first third of an episode not finished yet (the page may still show the
    last one for a moment); its number."""
    def under_way():
        s = actor_status(driver)
        finished = {r['episode'] for r in records(layout)}
        return (s.get('mode') == 'train' and not s.get('waiting')
                and 1 <= s.get('step', 0) <= MAX_STEPS // 3
                and s['episode'] not in finished and s['episode'] + 1)

    return wait_for(under_way, 'an episode under way', graph) - 1


def record_of(layout, episode, graph):
    return wait_for(lambda: next((r for r in records(layout) if r['episode'] == episode), None),
                    f'the record of episode {episode}', graph)


def test_the_page_shows_camera_frames_that_change(console):
    graph, _, driver, _, _ = console
    frame = 'document.getElementById("camera-wrist_camera").toDataURL()'
    wait_for(lambda: page(driver, 'window.consoleMetrics.frames.wrist_camera || 0') >= 2,
             'wrist camera frames on the page', graph)
    first = page(driver, frame)
    wait_for(lambda: page(driver, frame) != first, 'a different wrist image', graph)
    assert page(driver, 'window.consoleMetrics.frames.front_camera || 0') >= 1


def test_the_probability_trace_and_the_episode_table_fill_in(console):
    graph, _, driver, _, layout = console
    wait_for(lambda: int(page(driver, 'document.getElementById("reward-plot").dataset.trace '
                                      '|| 0')) >= 5, 'a probability trace', graph)
    threshold = page(driver, 'document.getElementById("threshold").textContent')
    assert threshold == '0.500'
    rows = wait_for(lambda: page(driver, 'document.querySelectorAll("#episodes tbody tr")'
                                         '.length'), 'a row in the episode table', graph)
    assert rows <= len(records(layout))     # each row is an episode the actor recorded


def test_a_command_without_the_token_is_refused_and_changes_nothing(console):
    graph, _, driver, port, layout = console
    episode = mid_episode(driver, graph, layout)
    request = urllib.request.Request(f'http://127.0.0.1:{port}/command/failure', method='POST')
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403
    wrong = urllib.request.Request(f'http://127.0.0.1:{port}/command/failure', method='POST',
                                   headers={TOKEN_HEADER: 'guess'})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(wrong, timeout=10)
    assert refused.value.code == 403
    # a failure would have ended the episode early: it runs its full length
    assert record_of(layout, episode, graph)['length'] == MAX_STEPS


@pytest.mark.parametrize('button, success', [('success', True), ('failure', False)])
def test_a_success_or_failure_press_is_recorded_in_the_episode_records(console, button,
                                                                       success):
    graph, _, driver, _, layout = console
    episode = mid_episode(driver, graph, layout)
    driver.find_element('id', f'command-{button}').click()
    record = record_of(layout, episode, graph)
    assert record['success'] is success
    assert record['length'] < MAX_STEPS     # the press ended it
    row = f'#episodes tbody tr[data-episode="{episode}"]'
    wait_for(lambda: page(driver, f'document.querySelector(\'{row}\')'), 'its row', graph)
    assert page(driver, f'document.querySelector(\'{row}\').dataset.success') == \
        json.dumps(success)


def test_pause_holds_back_the_next_episode_until_resume(console):
    graph, _, driver, _, layout = console
    episode = mid_episode(driver, graph, layout)
    driver.find_element('id', 'command-pause').click()
    record_of(layout, episode, graph)              # the episode under way runs to its end
    wait_for(lambda: actor_status(driver).get('waiting') == 'paused by the operator',
             'the actor paused', graph)
    time.sleep(2.0)
    assert actor_status(driver)['waiting'] == 'paused by the operator'
    assert not any(r['episode'] > episode for r in records(layout))
    driver.find_element('id', 'command-resume').click()
    wait_for(lambda: actor_status(driver).get('episode', -1) > episode
             and not actor_status(driver).get('waiting'), 'the next episode', graph)


def test_the_intervention_button_toggles_the_operator_on_and_off(console):
    graph, _, driver, _, _ = console
    leader = 'document.getElementById("leader").textContent'
    wait_for(lambda: page(driver, leader) == 'free', 'the operator off', graph)
    driver.find_element('id', 'command-intervention').click()
    wait_for(lambda: page(driver, leader) == 'engaged', 'the operator engaged', graph)
    driver.find_element('id', 'command-intervention').click()
    wait_for(lambda: page(driver, leader) == 'free', 'the operator off again', graph)


def test_the_stop_button_holds_the_arm(console):
    graph, probe, driver, _, layout = console
    mid_episode(driver, graph, layout)
    driver.find_element('id', 'command-stop').click()
    wait_for(lambda: 'holding' in page(driver, 'document.getElementById("command-result")'
                                               '.textContent'), 'the stop answered', graph)
    # The servos settle on the pose they were stopped at (momentum, gravity sag): longer in wall
    # time when a loaded machine runs the simulation slower than real time.
    wait_for(lambda: settled(probe), 'the arm settled after the stop', graph)
    start = time.monotonic()
    time.sleep(2.0)  # the window in which the actor goes on commanding (its episode runs on)
    held = np.array(probe.since(probe.joints, start))
    assert len(held) > 10
    assert probe.since(probe.commands, start), 'premise: the actor kept commanding'
    motion = np.abs(held - held[0]).max(axis=0)
    assert motion.max() < 0.01, f'the joints moved {np.round(motion, 3)} rad after the stop'
    driver.find_element('id', 'command-release').click()
    wait_for(lambda: 'torque on' in page(driver, 'document.getElementById("command-result")'
                                                 '.textContent'), 'the release', graph)


def test_the_stop_works_with_the_classifier_down_and_no_learner(console):
    graph, _, driver, _, _ = console
    assert 'learner' not in {n.spec.name for n in graph.nodes}
    classifier = next(n for n in graph.nodes if n.spec.name == 'reward_classifier')
    assert stop_process(classifier.process, name='reward_classifier',
                        log_path=classifier.log_path) == 0
    result = 'document.getElementById("command-result").textContent'
    driver.find_element('id', 'command-stop').click()
    wait_for(lambda: 'stop: holding' in page(driver, result), 'the stop answered', graph,
             stopped=('reward_classifier',))


def test_in_a_slowed_simulation_a_frames_age_is_taken_on_the_sim_clock(tmp_path):
    """At 0.3 x real time the cameras stamp frames in sim time, which falls 0.7 s behind the
    wall clock every second (seen on a run: frames "76806 ms after its stamp"). The console
    takes a frame's age on its own clock, sim time, so the page shows the real delay."""
    graph = Graph('train', {'output_dir': str(tmp_path), 'robot': f'c{uuid.uuid4().hex[:8]}',
                            'real_time_factor': '0.3', 'wait_for_learner': 'false',
                            'console_port': '0'}, only=['sim', 'console'], quiet=True)
    graph.start()
    driver = None
    try:
        log = tmp_path / 'logs' / 'console.log'
        found = wait_for(lambda: log.exists() and re.search(r'operator console on http://\S+:'
                                                            r'(\d+)/', log.read_text()),
                         'the console to say where it serves', graph)
        started = time.monotonic()
        driver = browser()
        driver.get(f'http://127.0.0.1:{found.group(1)}/')
        wait_for(lambda: page(driver, 'window.consoleMetrics.frames.wrist_camera || 0') >= 5,
                 'wrist camera frames on the page', graph)
        time.sleep(max(0.0, 8.0 - (time.monotonic() - started)))  # sim time falls > 5 s behind
        driver.execute_script('window.consoleMetrics.latencyMs = []')
        wait_for(lambda: len(page(driver, 'window.consoleMetrics.latencyMs')) >= 5,
                 'more frames', graph)
        ages = page(driver, 'window.consoleMetrics.latencyMs')
        assert max(ages) < 3000, f'frame ages {ages} ms: the wall clock against sim stamps?'
        # The console's sim clock is the newest /clock (config/sim.yaml: 100 a sim second), so
        # a frame stamped between two of them looks up to one period younger than its stamp.
        assert min(ages) >= -1000.0 / SIM_CLOCK_RATE_HZ, ages
    finally:
        if driver is not None:
            driver.quit()
        graph.stop()
