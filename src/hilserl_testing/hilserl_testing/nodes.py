"""Test support shared by every package's tests (and the benchmarks): the probe node that plays
the rest of the graph beside the nodes under test, and stopping a node's process."""
import os
import random
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Optional

import rclpy
from rclpy.executors import SingleThreadedExecutor

from hilserl_interfaces.msg import Transition

# scripts/env.sh: the domain of the workspace's own graphs (a training run among them).
WORKSPACE_DOMAIN_ID = 42


def private_ros_domain() -> int:
    """Put this process (and the nodes it starts) on a ROS 2 domain of its own, on this machine
    only, before any node starts: never the workspace's default domain, whose learner would take
    this run's /transitions. Domain ids 1-100 keep Fast DDS's ports out of the ephemeral range."""
    domain = random.SystemRandom().choice(
        [d for d in range(1, 101) if d != WORKSPACE_DOMAIN_ID])
    os.environ['ROS_DOMAIN_ID'] = str(domain)
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    return domain


def load_average() -> str:
    """The machine's load, for a benchmark to print beside its figures."""
    return ' '.join(f'{v:.1f}' for v in os.getloadavg()) + f' on {os.cpu_count()} cores'


class ProbeNode:
    """A test-side rclpy node in a context of its own, so it never shares state with another
    test's nodes. Spin it with `spin_in_background()` (a daemon thread) or call
    `executor.spin_once` yourself; `close()` ends the thread, the node and the context."""

    def __init__(self, name: str, namespace: str = ''):
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(name, namespace=namespace, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread: Optional[threading.Thread] = None

    def spin_in_background(self):
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def call(self, srv_type, name: str, request, timeout: float = 10.0):
        """Call service `name` (the probe must be spinning) and return its response; fails the
        test naming the service when it is not offered or does not answer."""
        client = self.node.create_client(srv_type, name)
        assert client.wait_for_service(timeout_sec=timeout), f'service {name} not offered'
        future = client.call_async(request)
        deadline = time.monotonic() + timeout
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert future.done(), f'service {name} did not answer'
        return future.result()

    def take_transitions(self):
        """Stand in for the learner: subscribe to /transitions (raw, never decoded). An actor
        in train mode starts no training episode until something takes its transitions."""
        self.node.create_subscription(Transition, '/transitions', lambda _: None, 10, raw=True)

    def close(self):
        self.executor.shutdown()  # also ends executor.spin in the thread
        if self.thread is not None:
            self.thread.join(timeout=5)
        self.node.destroy_node()
        self.context.try_shutdown()


def stop_process(process: subprocess.Popen, sig: int = signal.SIGINT, timeout: float = 15.0,
                 name: str = '', log_path: Optional[Path] = None) -> int:
    """Send `sig` to a node's process (if it still runs) and wait for it to exit; returns its
    exit code. A process still running after `timeout` s is a failure of its own: its Python
    stacks are dumped to its output (hilserl_common.node: SIGUSR1), it is killed so it cannot
    hang the suite, and an AssertionError names it, the grace period it outlived and the tail of
    its log (`log_path`), so the failure says where it was stuck."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            dump_stacks_and_kill(process)
            raise AssertionError(
                f'{name or f"process {process.pid}"} did not exit within {timeout:.0f} s of '
                f'{signal.Signals(sig).name}: killed (SIGKILL), exit code '
                f'{process.returncode}{log_tail(log_path)}') from None
    return process.returncode


def dump_stacks_and_kill(process: subprocess.Popen, dump_wait_s: float = 2.0) -> None:
    """SIGUSR1 (a node writes its threads' stacks to its output), a moment to write them, then
    SIGKILL."""
    if process.poll() is None:
        process.send_signal(signal.SIGUSR1)
        try:
            process.wait(timeout=dump_wait_s)
        except subprocess.TimeoutExpired:
            pass
    if process.poll() is None:
        process.kill()
    process.wait()


def log_tail(log_path: Optional[Path], lines: int = 60) -> str:
    """The last `lines` of a log, as the end of a failure message ('' without a log)."""
    if log_path is None:
        return ''
    try:
        text = Path(log_path).read_text(errors='replace').splitlines()[-lines:]
    except OSError as error:
        return f'\n(no log: {error})'
    return f'\n--- the last {len(text)} lines of {log_path} ---\n' + '\n'.join(text)


def unclean_stops(nodes) -> str:
    """Why the nodes of a stopped graph (hilserl_bringup.runner.RunningNode: spec.name,
    process, escalation, log_path) did not all exit with 0, each with the tail of its log; ''
    when they did. For `assert not failures, failures`."""
    failures = []
    for node in nodes:
        code = node.process.returncode
        if code != 0:
            how = f'; {node.escalation}' if node.escalation else ''
            failures.append(f'{node.spec.name} exited with code {code}{how}'
                            f'{log_tail(node.log_path)}')
    return '\n\n'.join(failures)


class ListLog:
    """A logger that keeps its lines, for code that takes one (info and warning)."""

    def __init__(self):
        self.lines = []

    def info(self, text):
        self.lines.append(text)

    warning = info
