"""The two hosts of hilserl_testing.two_hosts: a datagram from one reaches the other over their
link (and its counters show it), and nothing of them is left afterwards, also when the code
inside failed."""
import subprocess
import sys

import pytest

from hilserl_testing.two_hosts import two_hosts, why_no_namespaces

RECEIVE = ('import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); '
           's.bind((ADDRESS, 7777)); s.settimeout(10); print(len(s.recv(65536)))')
SEND = ('import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM)'
        '.sendto(bytes(20000), (ADDRESS, 7777))')


@pytest.fixture(autouse=True)
def namespaces_possible():
    why = why_no_namespaces()
    if why:
        pytest.skip(f'two hosts cannot be made here: {why}')


def namespaces():
    return subprocess.run(['ip', 'netns', 'list'], capture_output=True, text=True,
                          check=True).stdout


def test_a_datagram_crosses_the_link_and_nothing_is_left_afterwards():
    with two_hosts() as hosts:
        assert hosts.robot.namespace in namespaces() and hosts.gpu.namespace in namespaces()
        before = hosts.robot.link_bytes()
        receiver = subprocess.Popen(hosts.gpu.command(
            [sys.executable, '-c', RECEIVE.replace('ADDRESS', repr(hosts.gpu.address))], {}),
            stdout=subprocess.PIPE, text=True)
        # The receiver binds in its own time; send until it has what it waits for.
        while receiver.poll() is None:
            subprocess.run(hosts.robot.command(
                [sys.executable, '-c', SEND.replace('ADDRESS', repr(hosts.gpu.address))], {}),
                check=True)
        assert receiver.communicate()[0].strip() == '20000'
        sent = hosts.robot.link_bytes()[1] - before[1]
        assert sent >= 20000
        # Neither end of the link is in the machine's own namespace: only the link joins them.
        assert hosts.robot.interface not in subprocess.run(
            ['ip', 'link'], capture_output=True, text=True).stdout
    assert hosts.robot.namespace not in namespaces() and hosts.gpu.namespace not in namespaces()


def test_the_hosts_are_removed_when_the_code_inside_fails():
    with pytest.raises(RuntimeError, match='inside'):
        with two_hosts() as hosts:
            raise RuntimeError('inside')
    assert hosts.robot.namespace not in namespaces() and hosts.gpu.namespace not in namespaces()
