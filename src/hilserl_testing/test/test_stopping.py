"""A node that outlives its stop's grace period names itself: the test helper kills it only
after it has written where it was stuck (hilserl_common.node's SIGUSR1 stacks), and the failure
says which process, why it was killed and the end of its log."""
import signal
import subprocess
import sys
import time

import pytest

from hilserl_testing.nodes import stop_process

# A process that starts like every node (hilserl_common.node.run registers the stack dump),
# then ignores Ctrl-C in a function whose name the stacks must show.
HUNG_NODE = '''
import faulthandler, signal, sys, time
faulthandler.register(signal.SIGUSR1, all_threads=True)
signal.signal(signal.SIGINT, signal.SIG_IGN)
def stuck_in_shutdown():
    print('started', flush=True)
    while True:
        time.sleep(0.1)
stuck_in_shutdown()
'''


def start_hung(log_path):
    with open(log_path, 'w') as log:
        process = subprocess.Popen([sys.executable, '-c', HUNG_NODE], stdout=log,
                                   stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while 'started' not in log_path.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    return process


def test_a_process_that_outlives_its_grace_period_is_named_with_its_stacks(tmp_path):
    log_path = tmp_path / 'hung.log'
    process = start_hung(log_path)
    with pytest.raises(AssertionError) as failure:
        stop_process(process, timeout=1.0, name='hung_node', log_path=log_path)
    message = str(failure.value)
    assert process.returncode == -signal.SIGKILL
    assert 'hung_node did not exit within 1 s of SIGINT: killed (SIGKILL)' in message
    assert 'stuck_in_shutdown' in message, message  # its stack, from the log's tail


def test_a_clean_exit_returns_its_code(tmp_path):
    process = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])
    assert stop_process(process, signal.SIGTERM) == -signal.SIGTERM
