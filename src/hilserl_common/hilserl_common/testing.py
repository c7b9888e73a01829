"""Test support shared by every package's tests (and the benchmarks): the probe node that plays
the rest of the graph beside the nodes under test, and stopping a node's process."""
import os
import random
import signal
import subprocess
import threading
import time
from typing import Optional

import rclpy
from rclpy.executors import SingleThreadedExecutor

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

    def close(self):
        self.executor.shutdown()  # also ends executor.spin in the thread
        if self.thread is not None:
            self.thread.join(timeout=5)
        self.node.destroy_node()
        self.context.try_shutdown()


def stop_process(process: subprocess.Popen, sig: int = signal.SIGINT,
                 timeout: float = 15.0) -> int:
    """Send `sig` to a node's process (if it still runs) and wait for it to exit; killed after
    `timeout` s, so a hung node cannot hang the test. Returns its exit code."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


class ListLog:
    """A logger that keeps its lines, for code that takes one (info and warning)."""

    def __init__(self):
        self.lines = []

    def info(self, text):
        self.lines.append(text)

    warning = info
