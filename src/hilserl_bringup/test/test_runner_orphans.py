"""A node never outlives a killed runner, whenever between fork and exec the runner dies.

The runner arms PR_SET_PDEATHSIG in the child between fork and exec. These tests widen each
half of that window with a sleep in the child and kill the parent inside it, so the race that
once left a node running (the parent dying before the prctl, or the signal arriving while the
child still has the parent's own SIGTERM handler) happens every time."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

PARENT = textwrap.dedent('''
    import os, signal, subprocess, sys, time
    from hilserl_bringup.runner import die_with_parent
    signal.signal(signal.SIGTERM, lambda *_: None)  # as the runner does: a handler of its own
    hook = die_with_parent(os.getpid())
    slow = {'before': lambda: (time.sleep(1.0), hook()), 'after': lambda: (hook(), time.sleep(1.0))}
    subprocess.Popen(['sleep', '60'], preexec_fn=slow[sys.argv[1]])
    time.sleep(60)
''')


def child_of(parent, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = psutil.Process(parent.pid).children()
        if children:
            return children[0]
        time.sleep(0.01)
    raise AssertionError('the parent started no child')


@pytest.mark.parametrize('window', ['before', 'after'])
def test_a_child_dies_when_the_parent_dies_between_fork_and_exec(window):
    parent = subprocess.Popen([sys.executable, '-c', PARENT, window])
    child = child_of(parent)
    try:
        time.sleep(0.3)  # the child sleeps in its preexec, the `window` side of the prctl
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        child.wait(timeout=5.0)  # raises TimeoutExpired if it was orphaned
    finally:
        if child.is_running():
            child.kill()
