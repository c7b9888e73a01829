"""The web server over real HTTP (no ROS): the page and its files are served, a command off
localhost without the token is refused with 403 before anything runs, and a taken port is named."""
import json
import socket
import urllib.error
import urllib.request

import pytest

from hilserl_console.access import TOKEN_HEADER, Access
from hilserl_console.server import ConsoleServer, PortTaken
from hilserl_console.state import ConsoleState


@pytest.fixture
def serve():
    servers = []

    def start(bind_address='127.0.0.1', token='', port=0):
        ran = []
        server = ConsoleServer(ConsoleState(), Access(bind_address, token, False),
                               lambda command: ran.append(command.name) or (True, 'done'),
                               {'cameras': ['wrist_camera'], 'title': 't'}, 10.0,
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
