"""Start a node graph without `ros2 launch` (machines with the PyPI ROS wheels only).

    run_graph train sim:=true output_dir:=runs/first

starts the same executables, parameter files, parameters and remappings that
`ros2 launch hilserl_bringup train.launch.py` starts (both read hilserl_bringup.graph), with
standard `--ros-args` and parameters in the order of hilserl_bringup.parameters. Ctrl-C/SIGTERM
are forwarded to every node; when a required node exits the whole graph is stopped and the runner
exits with that node's exit code (1 if it was 0); children die with the runner even if it is
killed (PR_SET_PDEATHSIG).
"""
import argparse
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from hilserl_bringup.graph import GRAPH_ARGUMENTS, GRAPHS, NodeSpec, namespace_of, resolve_arguments
from hilserl_bringup.parameters import parameter_files
from hilserl_common.dds_shm import remove_unfinished_ports

STOP_TIMEOUT_S = 10.0
_PR_SET_PDEATHSIG = 1


class GraphError(RuntimeError):
    """The graph cannot start: the message says why (missing file, executable, argument)."""


def executable_path(package: str, executable: str) -> str:
    """Where `ros2 run package executable` would find the executable."""
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix
    try:
        prefix = get_package_prefix(package)
    except PackageNotFoundError:
        raise GraphError(f'package {package!r} is not built or not on AMENT_PREFIX_PATH '
                         f'(run scripts/setup, then source scripts/env.sh)') from None
    path = os.path.join(prefix, 'lib', package, executable)
    if not os.access(path, os.X_OK):
        raise GraphError(f'executable {executable!r} of package {package!r} not found at {path}')
    return path


def default_config_dir() -> str:
    from ament_index_python.packages import get_package_share_directory
    return os.path.join(get_package_share_directory('hilserl_bringup'), 'config')


def ros_arguments(spec: NodeSpec, namespace: str, config_dir: str, user_file: str,
                  parameters_dir: str) -> List[str]:
    """The standard `--ros-args` for one node: name, namespace, parameter files (the graph's own
    written into `parameters_dir`), remappings."""
    args = ['--ros-args', '-r', f'__node:={spec.name}', '-r', f'__ns:={namespace}']
    for path in parameter_files(spec, config_dir, user_file, parameters_dir):
        if not os.path.isfile(path):
            raise GraphError(f'parameter file {path} (for node {spec.name}) does not exist')
        args += ['--params-file', path]
    for source, target in spec.remappings:
        args += ['-r', f'{source}:={target}']
    return args


def exit_reason(code: int) -> str:
    """What a node's exit code says (hilserl_common.node: 2 is a configuration error)."""
    if code == 2:
        return 'a configuration error: its message is above'
    if code < 0:
        try:
            return f'killed by {signal.Signals(-code).name}'
        except ValueError:
            return f'killed by signal {-code}'
    if code == 0:
        return 'it stopped on its own, and the graph cannot go on without it'
    return 'an error: its output above says which'


def required_exit_message(name: str, code: int) -> str:
    return (f'required node {name} exited with code {code} ({exit_reason(code)}); '
            f'stopping the graph')


def die_with_parent(parent_pid: int):
    """A preexec_fn: the kernel sends the child SIGTERM when the runner (`parent_pid`) dies.

    It runs in the child between fork and exec, and the runner can die at any point of it. A
    death before the prctl sends no signal, so the child checks it is still the runner's; and
    the child starts with the runner's own SIGTERM handler (which only sets a flag), so a signal
    before the exec would be swallowed: SIGTERM is made fatal again first."""
    def preexec():
        libc = ctypes.CDLL('libc.so.6', use_errno=True)
        libc.signal.argtypes, libc.signal.restype = (ctypes.c_int, ctypes.c_void_p), ctypes.c_void_p
        libc.signal(signal.SIGTERM, None)  # SIG_DFL
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent_pid:
            os.kill(os.getpid(), signal.SIGTERM)
    return preexec


class RunningNode:
    """One node process with its output prefixed on the terminal and copied to a log file."""

    def __init__(self, spec: NodeSpec, command: List[str], log_dir: Optional[Path], quiet: bool):
        self.spec = spec
        self.command = command
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL,
                                        preexec_fn=die_with_parent(os.getpid()))
        self.log_path = log_dir / f'{spec.name}.log' if log_dir else None
        self.escalation = ''  # how a stop had to end it, when SIGINT was not enough
        log = open(self.log_path, 'ab') if self.log_path else None
        self._pump = threading.Thread(target=self._copy_output, args=(log, quiet), daemon=True)
        self._pump.start()

    def _copy_output(self, log, quiet: bool):
        prefix = f'[{self.spec.name}] '.encode()
        for line in iter(self.process.stdout.readline, b''):
            if log:
                log.write(line)
                log.flush()
            if not quiet:
                sys.stdout.buffer.write(prefix + line)
                sys.stdout.buffer.flush()
        if log:
            log.close()

    def signal(self, signum: int):
        if self.process.poll() is None:
            self.process.send_signal(signum)

    def finish_output(self, timeout: float = 2.0):
        self._pump.join(timeout)


class Graph:
    """A started graph: its nodes, and how to stop them all."""

    def __init__(self, graph: str, arguments: Dict[str, str], only: Sequence[str] = (),
                 quiet: bool = False, prefix: Sequence[str] = ()):
        self.name = graph
        self.arguments = resolve_arguments(graph, arguments)
        specs = GRAPHS[graph](self.arguments)
        unknown = sorted(set(only) - {s.name for s in specs})
        if unknown:
            raise GraphError(f'no node(s) {", ".join(unknown)} in the {graph} graph; '
                             f'nodes: {", ".join(s.name for s in specs)}')
        self.specs = [s for s in specs if not only or s.name in only]
        self.quiet = quiet
        # What every node's command runs under, e.g. `ip netns exec NAME env ...` to start
        # the nodes on another host (hilserl_testing.two_hosts); it must exec the node, so that
        # signals reach it.
        self.prefix = list(prefix)
        self.nodes: List[RunningNode] = []

    def commands(self, parameters_dir: str) -> List[List[str]]:
        """Every node's command line; the graph's parameters go into `parameters_dir`."""
        config_dir = self.arguments['config_dir'] or default_config_dir()
        user_file = self.arguments['config_file']
        if user_file and not os.path.isfile(user_file):
            raise GraphError(f'config_file {user_file} does not exist')
        return [[executable_path(s.package, s.executable)]
                + ros_arguments(s, namespace_of(s, self.arguments['robot']), config_dir,
                                user_file, parameters_dir)
                for s in self.specs]

    def start(self):
        log_dir = Path(self.arguments['output_dir']) / 'logs'
        # Every check before the first process starts; the graph's parameters of each node are
        # kept beside its log.
        commands = self.commands(str(log_dir / 'parameters'))
        log_dir.mkdir(parents=True, exist_ok=True)
        # A node that took a port left unfinished by a killed process would never come up.
        for port in remove_unfinished_ports():
            print(f'[run_graph] removed {port}, an unfinished Fast DDS port (its creator was '
                  'killed)', file=sys.stderr, flush=True)
        for spec, command in zip(self.specs, commands):
            self.nodes.append(RunningNode(spec, self.prefix + command, log_dir, self.quiet))

    def failed_required(self) -> Optional[RunningNode]:
        for node in self.nodes:
            if node.spec.required and node.process.poll() is not None:
                return node
        return None

    def running(self) -> bool:
        return any(n.process.poll() is None for n in self.nodes)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> Dict[str, int]:
        """SIGINT to every node, SIGTERM to what is left after `timeout`, then SIGKILL (after
        SIGUSR1, which makes a node write its Python stacks to its log). Each node killed that
        way keeps why in `escalation`."""
        waited = 0.0
        for signum, grace in ((signal.SIGINT, timeout), (signal.SIGTERM, 3.0),
                              (signal.SIGKILL, 3.0)):
            for node in self.nodes:
                if signum != signal.SIGINT and node.process.poll() is None:
                    node.escalation = (f'still running {waited:.0f} s after SIGINT: '
                                       f'sent {signal.Signals(signum).name}')
                    if signum == signal.SIGKILL:
                        node.signal(signal.SIGUSR1)
                        time.sleep(0.5)  # its stacks, written by its faulthandler
                node.signal(signum)
            deadline = time.monotonic() + grace
            while self.running() and time.monotonic() < deadline:
                time.sleep(0.05)
            waited += grace
            if not self.running():
                break
        for node in self.nodes:
            node.finish_output()
        return {n.spec.name: n.process.returncode for n in self.nodes}


def parse_launch_arguments(tokens: Sequence[str]) -> Dict[str, str]:
    values = {}
    for token in tokens:
        name, sep, value = token.partition(':=')
        if not sep or not name:
            raise GraphError(f'expected name:=value, got {token!r}')
        values[name] = value
    return values


def run(graph_name: str, arguments: Dict[str, str], only: Sequence[str] = ()) -> int:
    graph = Graph(graph_name, arguments, only)
    stop_requested = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop_requested.set())
    graph.start()
    print(f'[run_graph] {graph_name}: started {", ".join(s.name for s in graph.specs)}; '
          f'Ctrl-C stops the graph', flush=True)
    code = 0
    while not stop_requested.wait(0.1):
        dead = graph.failed_required()
        if dead is not None:
            print(f'[run_graph] {required_exit_message(dead.spec.name, dead.process.returncode)}',
                  file=sys.stderr, flush=True)
            code = dead.process.returncode or 1
            break
    codes = graph.stop()
    print(f'[run_graph] stopped: {codes}', flush=True)
    return code


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='run_graph', description=__doc__.split('\n\n')[0],
        epilog='Arguments: ' + '; '.join(f'{a.name} (default {a.default!r}): {a.description}'
                                         for a in GRAPH_ARGUMENTS['train']))
    parser.add_argument('graph', help='graph or launch file name: ' + ', '.join(GRAPHS))
    parser.add_argument('arguments', nargs='*', help='launch arguments as name:=value')
    parser.add_argument('--only', default='', help='comma-separated node names to start '
                        '(default: the whole graph)')
    options = parser.parse_intermixed_args(argv)
    graph_name = options.graph.removesuffix('.launch.py')
    if graph_name not in GRAPHS:
        parser.error(f'unknown graph {options.graph!r}; known: {", ".join(GRAPHS)}')
    try:
        arguments = parse_launch_arguments(options.arguments)
        only = [n for n in options.only.split(',') if n]
        sys.exit(run(graph_name, arguments, only))
    except (GraphError, ValueError) as error:
        print(f'run_graph: {error}', file=sys.stderr)
        sys.exit(2)


if __name__ == '__main__':
    main()
