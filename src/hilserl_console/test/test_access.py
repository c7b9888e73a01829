"""Who may press the buttons: anyone on localhost; off localhost only with the token; a
read-only console offers the stop alone."""
import pytest

from hilserl_console.access import COMMANDS, Access, is_loopback


@pytest.mark.parametrize('address, loopback', [
    ('127.0.0.1', True), ('127.0.1.1', True), ('::1', True), ('localhost', True),
    ('0.0.0.0', False), ('192.168.1.20', False), ('robot.local', False)])
def test_only_loopback_addresses_count_as_this_machine(address, loopback):
    assert is_loopback(address) == loopback


def test_on_localhost_a_command_needs_no_token():
    assert Access('127.0.0.1', '', False).refusal('success', None) is None


def test_off_localhost_a_command_without_the_right_token_is_forbidden():
    access = Access('0.0.0.0', 'secret', False)
    assert access.refusal('stop', None)[0] == 403
    assert access.refusal('stop', 'wrong')[0] == 403
    assert access.refusal('stop', 'secret') is None


def test_an_empty_token_parameter_makes_a_random_one():
    one, two = Access('0.0.0.0', '', False), Access('0.0.0.0', '', False)
    assert len(one.token) >= 16 and one.token != two.token


def test_a_read_only_console_offers_only_the_arms_safety():
    access = Access('127.0.0.1', '', True)
    assert access.refusal('success', None)[0] == 403
    assert access.refusal('stop', None) is None
    assert {c['name'] for c in access.offered()} == {'stop', 'release'}


def test_an_unknown_command_is_named():
    status, reason = Access('127.0.0.1', '', False).refusal('launch', None)
    assert status == 404 and 'launch' in reason and 'success' in reason
    assert set(COMMANDS) >= {'success', 'failure', 'rerecord', 'intervention', 'pause',
                             'resume', 'stop'}
