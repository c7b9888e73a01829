"""The web server over real HTTP (no ROS): the page and its files are served, a command off
localhost without the token is refused with 403 before anything runs, and a taken port is named;
in a real headless Chromium, the page shows the figures as the state has them."""
import json
import re
import socket
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from hilserl_common.figures import MOVING_AVERAGE_EPISODES
from hilserl_console.access import TOKEN_HEADER, Access
from hilserl_console.frames import encode_jpeg
from hilserl_console.server import ConsoleServer, PortTaken
from hilserl_console.state import ConsoleState
from hilserl_testing.browser import NoBrowser, headless_chromium


@pytest.fixture
def serve():
    servers = []

    def start(bind_address='127.0.0.1', token='', port=0, state=None):
        ran = []
        server = ConsoleServer(state or ConsoleState(), Access(bind_address, token, False),
                               lambda command: ran.append(command.name) or (True, 'done'),
                               {'cameras': ['wrist_camera'], 'title': 't',
                                'moving_average_episodes': MOVING_AVERAGE_EPISODES}, 10.0,
                               log=lambda text: None)
        servers.append(server)
        return server, server.start(bind_address, port), ran

    yield start
    for server in servers:
        server.stop()


def post(port, name, token=None):
    request = urllib.request.Request(f'http://127.0.0.1:{port}/command/{name}', method='POST',
                                     headers={TOKEN_HEADER: token} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_the_page_its_files_and_the_state_are_served(serve):
    _, port, _ = serve()
    for path in ('/', '/static/console.js', '/static/plot.js', '/static/console.css'):
        with urllib.request.urlopen(f'http://127.0.0.1:{port}{path}', timeout=5) as response:
            assert response.status == 200 and response.read()
    with urllib.request.urlopen(f'http://127.0.0.1:{port}/state', timeout=5) as response:
        state = json.load(response)
    assert state['info']['cameras'] == ['wrist_camera'] and not state['info']['token_needed']


def test_off_localhost_a_command_without_the_token_gets_403_and_does_nothing(serve):
    _, port, ran = serve('0.0.0.0', token='secret')
    assert post(port, 'success')[0] == 403
    assert post(port, 'stop', 'wrong')[0] == 403
    assert ran == []
    assert post(port, 'stop', 'secret') == (200, {'ok': True, 'message': 'done'})
    assert ran == ['stop']


def test_a_taken_port_is_named(serve):
    with socket.socket() as taken:
        taken.bind(('127.0.0.1', 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortTaken, match=f'127.0.0.1:{port}'):
            serve(port=port)


def run_state() -> ConsoleState:
    """Two demonstrations, then training episodes 2-5 and an evaluation round of two; the
    learner at 13 updates per env step, then resting through the round (owing -1474, as its
    count read on a run; 80 of its transitions from a second arm); a wrist frame stamped 76.8 s
    into a slowed simulation."""
    state = ConsoleState()
    for number, mode in enumerate(['record'] * 2 + ['train'] * 4 + ['eval'] * 2):
        state.on_episode({'episode': number, 'mode': mode, 'success': number % 2 == 1,
                          'return': 1.0, 'length': 50, 'intervention_steps': 5,
                          'intervention_rate': 0.1, 'policy_version': 3, 'duration_s': 5.0})
    for second in range(40):
        steps = 10 * min(second, 20)
        state.on_learner({'stamp': 70.0 + second, 'optimization_step': 13 * steps,
                          'env_steps': steps, 'critic_loss': 0.5, 'actor_loss': -1.0,
                          'temperature': 0.01, 'updates_per_s': 130.0,
                          'updates_owed': -1474,
                          'env_steps_by_actor': {'so101': steps - 80, 'so101_b': 80}})
    state.on_frame('wrist_camera', 76.8, encode_jpeg(np.zeros((16, 16, 3), np.uint8)), 12.0)
    return state


def test_the_page_shows_demos_apart_learner_figures_that_mean_what_they_say_and_frame_age(
        serve):
    try:
        driver = headless_chromium()
    except NoBrowser as error:
        pytest.fail(str(error))
    try:
        _, port, _ = serve(state=run_state())
        driver.get(f'http://127.0.0.1:{port}/')

        def shown(script, what):
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                value = driver.execute_script('return ' + script)
                if value:
                    return value
                time.sleep(0.2)
            raise AssertionError(f'the page never showed {what}')

        figure = 'document.querySelector(\'[data-figure="{}"]\')?.textContent'
        assert shown(figure.format('updates per env step'), 'the learner') == '13'  # not 0
        assert shown(figure.format('updates owed'), 'the learner') == '0'
        assert shown(figure.format('transitions from so101_b'), 'the second arm') == '80'
        assert shown('document.getElementById("window").textContent', 'the window') == \
            str(MOVING_AVERAGE_EPISODES)
        plot = 'document.getElementById("history-plot").dataset'
        assert shown(f'{plot}.episodes', 'the training plot') == '4'  # no demos, no evals
        assert driver.execute_script(f'return {plot}.first') == '1'
        assert shown('document.getElementById("demos").textContent', 'the demos').startswith(
            '2 demonstrations (1 successful)')
        rows = driver.execute_script('return [...document.querySelectorAll("#episodes tbody '
                                     'tr")].map(r => r.dataset.mode + r.dataset.number)')
        assert rows == ['eval2', 'eval1', 'train4', 'train3', 'train2', 'train1', 'record2',
                        'record1']
        assert 'after 4 training episodes' in shown(
            'document.getElementById("eval-rounds").textContent', 'the evaluation round')
        note = shown('document.getElementById("camera-wrist_camera-note").textContent.includes'
                     '("after") && document.getElementById("camera-wrist_camera-note")'
                     '.textContent', 'the frame')
        # 12 ms on the stamp's clock plus the way to the page, not the wall clock minus 76.8 s
        age = int(re.match(r'#1, (-?\d+) ms after its stamp', note).group(1))
        assert 12 <= age < 5000
    finally:
        driver.quit()
