"""The simulated graph started through the runner: nodes appear, topics flow at their rates, and
every process exits when the graph stops, when a required node dies, or when the runner dies."""
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
from geometry_msgs.msg import PoseStamped
from sensor_msgs.msg import Image, JointState

from hilserl_bringup.runner import Graph
from hilserl_common import qos
from hilserl_testing.nodes import ProbeNode, unclean_stops

pytestmark = pytest.mark.graph

NODES = ['sim', 'kinematics', 'operator']


class TopicRates(ProbeNode):
    """Counts messages per topic on a test node of its own context."""

    def __init__(self, topics):
        super().__init__('graph_probe')
        self.counts = {name: 0 for name in topics}
        for name, (msg_type, profile) in topics.items():
            self.node.create_subscription(msg_type, name, lambda _, n=name: self._count(n),
                                          profile)

    def _count(self, name):
        self.counts[name] += 1

    def spin(self, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.05)

    def wait_for_all(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not all(self.counts.values()):
            self.executor.spin_once(timeout_sec=0.05)
        return all(self.counts.values())

    def rates(self, seconds):
        before = dict(self.counts)
        self.spin(seconds)
        return {n: (self.counts[n] - before[n]) / seconds for n in self.counts}

    def node_names(self):
        return {name for name, _ in self.node.get_node_names_and_namespaces()}

    def wait_for_nodes(self, names, timeout):
        """Node names arrive by discovery, after the first messages of their topics."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not set(names) <= self.node_names():
            self.executor.spin_once(timeout_sec=0.05)
        return self.node_names()


def children_alive(pids):
    return [p for p in pids if psutil.pid_exists(p)
            and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]


def test_the_sim_graph_publishes_at_its_rates_and_stops_cleanly(tmp_path):
    # A per-node override must reach the node in its robot namespace (a plain `sim:` key
    # would be ignored by rcl there): 45 Hz instead of the configured 30 Hz.
    overrides = tmp_path / 'overrides.yaml'
    overrides.write_text('/**/sim:\n  ros__parameters:\n    joint_state_rate_hz: 45.0\n')
    graph = Graph('train', {'output_dir': str(tmp_path), 'config_file': str(overrides)},
                  only=NODES, quiet=True)
    probe = TopicRates({
        '/so101/joint_states': (JointState, qos.SENSOR_RELIABLE),
        '/so101/wrist_camera/image_proc': (Image, qos.SENSOR),
        '/so101/ee_pose': (PoseStamped, qos.SENSOR_RELIABLE),
        '/so101/leader/joint_states': (JointState, qos.SENSOR_RELIABLE),
    })
    graph.start()
    pids = [n.process.pid for n in graph.nodes]
    try:
        assert probe.wait_for_all(timeout=60), f'topics silent: {probe.counts}'
        assert set(NODES) <= probe.wait_for_nodes(NODES, timeout=10)
        rates = probe.rates(3.0)
        assert rates['/so101/joint_states'] >= 36, rates     # 45 Hz configured
        assert rates['/so101/wrist_camera/image_proc'] >= 7, rates   # 10 Hz configured
        assert rates['/so101/ee_pose'] >= 20, rates
        assert graph.failed_required() is None
    finally:
        probe.close()
        started = time.monotonic()
        codes = graph.stop()
        stop_time = time.monotonic() - started
    assert not children_alive(pids)
    slow = {n.spec.name: n.escalation for n in graph.nodes if n.escalation}
    assert stop_time < 8.0, f'graph took {stop_time:.1f} s to stop: {slow}'
    failures = unclean_stops(graph.nodes)
    assert not failures, failures
    assert set(codes) == set(NODES)
    assert (tmp_path / 'logs' / 'sim.log').exists()


def test_a_node_that_does_not_stop_is_killed_and_named(tmp_path):
    """A node frozen (SIGSTOP: it cannot answer Ctrl-C or SIGTERM) is killed after the grace
    periods, and the graph says what it took."""
    graph = Graph('train', {'output_dir': str(tmp_path)}, only=['kinematics'], quiet=True)
    graph.start()
    try:
        wait_until_running(tmp_path / 'logs', ('kinematics',))
        os.kill(graph.nodes[0].process.pid, signal.SIGSTOP)
    finally:
        codes = graph.stop(timeout=1.0)
    assert codes == {'kinematics': -signal.SIGKILL}
    failures = unclean_stops(graph.nodes)
    assert failures.startswith('kinematics exited with code -9; still running 4 s after '
                               'SIGINT: sent SIGKILL'), failures
    assert 'kinematics ready' in failures  # the tail of its log


@pytest.fixture
def runner(tmp_path):
    """Starts `run_graph train --only sim,kinematics`; whatever is left is killed afterwards."""
    started = []

    def start(*extra):
        process = subprocess.Popen(
            [sys.executable, '-m', 'hilserl_bringup.runner', 'train', f'output_dir:={tmp_path}',
             '--only', 'sim,kinematics', *extra],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        started.append(process)
        return process

    yield start
    for process in started:
        for child in psutil.Process(process.pid).children() if process.poll() is None else []:
            child.kill()
        process.kill()
        process.wait()


def wait_for_children(process, count, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = psutil.Process(process.pid).children()
        if len(children) >= count:
            return [c.pid for c in children]
        time.sleep(0.1)
    raise AssertionError('the runner did not start its nodes')


READY = {'sim': 'simulated SO-101 running', 'kinematics': 'kinematics ready'}


def wait_until_running(log_dir, nodes=tuple(READY), timeout=60):
    """The nodes said they are up (their first log lines, in the runner's log files)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = [name for name in nodes if READY[name] not in _read(log_dir / f'{name}.log')]
        if not waiting:
            return
        time.sleep(0.1)
    raise AssertionError(f'{", ".join(waiting)} did not say it was running within {timeout} s')


def _read(path):
    return path.read_text(errors='replace') if path.exists() else ''


def wait_gone(pids, timeout):
    deadline = time.monotonic() + timeout
    while children_alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return children_alive(pids)


def test_a_dead_required_node_stops_the_whole_graph(runner, tmp_path):
    process = runner()
    pids = wait_for_children(process, 2)
    wait_until_running(tmp_path / 'logs')
    os.kill(pids[1], signal.SIGKILL)
    output, _ = process.communicate(timeout=30)
    assert process.returncode != 0
    assert 'required node kinematics exited with code -9 (killed by SIGKILL)' in output
    assert not wait_gone(pids, 5.0)


def test_sigterm_to_the_runner_stops_every_node(runner, tmp_path):
    process = runner()
    pids = wait_for_children(process, 2)
    wait_until_running(tmp_path / 'logs')
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert not wait_gone(pids, 5.0)


def test_nodes_die_with_a_killed_runner(runner):
    process = runner()
    pids = wait_for_children(process, 2)
    process.kill()
    process.wait(timeout=10)
    assert not wait_gone(pids, 10.0), 'orphaned node processes'


def test_a_bad_parameter_stops_the_graph_with_its_name(runner, tmp_path):
    overrides = tmp_path / 'overrides.yaml'
    overrides.write_text('/**/kinematics:\n  ros__parameters:\n    ik_max_iterations: 0\n')
    process = runner(f'config_file:={overrides}')
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 2  # the node's own exit code
    assert "'ik_max_iterations' = 0" in output
    assert 'required node kinematics exited with code 2 (a configuration error' in output
    assert 'Traceback' not in output
