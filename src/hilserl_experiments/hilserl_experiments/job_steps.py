"""The plumbing of a long job made of resumable stages: progress lines, stage markers, graphs
run until something is done, and command-line steps with their output logged; Ctrl-C or SIGTERM
stops the current step cleanly (Stopped) so that a rerun resumes."""
import json
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Optional

import yaml

from hilserl_bringup.graph import robot_side
from hilserl_bringup.runner import Graph, required_exit_message
from hilserl_common.overrides import OverrideError, parse_overrides
from hilserl_common.run_layout import DEFAULT_ROBOT, RunLayout

# How the console node says where it serves (hilserl_console.node).
CONSOLE_URL = re.compile(r'operator console on (\S+)')
CONSOLE_WAIT_S = 30.0

# The nodes of the job's graphs that draw random numbers; --seed sets them all.
SEEDED_NODES = ('sim', 'operator', 'actor', 'learner')
ARM_SEED_STRIDE = 1000  # arm k's nodes draw from --seed + 1000 k: far from the next seed's


def robot_name(arm: int) -> str:
    """The robot namespace of a job's arm by its index: so101, so101_b, so101_c, ..."""
    return f'{DEFAULT_ROBOT}_{chr(ord("a") + arm)}' if arm else DEFAULT_ROBOT


class Stopped(Exception):
    """Ctrl-C or SIGTERM: the current stage stops cleanly; a rerun resumes."""


class JobSteps:
    """Markers in `<output_dir>/stages/`, logs in `<output_dir>/logs/`."""

    def __init__(self, options):
        self.options = options
        self.out = Path(options.output_dir).resolve()
        self.layout = RunLayout(self.out)
        self.stop_requested = threading.Event()
        self.started = time.monotonic()

    name = 'main_job'  # what its progress lines start with

    def say(self, text: str):
        elapsed = time.monotonic() - self.started
        print(f'[{self.name} {elapsed / 60:5.1f} min] {text}', flush=True)

    def marker(self, stage: str) -> Path:
        return self.out / 'stages' / f'{stage}.json'

    def done(self, stage: str) -> bool:
        return self.marker(stage).exists()

    def mark_done(self, stage: str, figures: dict):
        self.marker(stage).parent.mkdir(parents=True, exist_ok=True)
        figures = {**figures, 'finished_wall_time': time.time()}
        self.marker(stage).write_text(json.dumps(figures, indent=1))

    def stage_figures(self, stage: str) -> dict:
        """The figures a finished stage left in its marker (mark_done); {} before it is done."""
        return json.loads(self.marker(stage).read_text()) if self.done(stage) else {}

    def check_stop(self):
        if self.stop_requested.is_set():
            raise Stopped()

    def overrides_file(self, name: str, sections: dict, path: Optional[Path] = None,
                       base: Optional[dict] = None, arm: int = 0) -> str:
        """A parameter file of per-node overrides for one graph run (node '*': every node),
        in `path` (default: <output_dir>/config/<name>.yaml, or <name>_<robot>.yaml for arm
        1, 2, ...), on top of the parameter file document `base` if given. Each arm draws its
        own random numbers: its nodes' seed is --seed + 1000 x its index."""
        if path is None:
            suffix = f'_{robot_name(arm)}' if arm else ''
            path = self.out / 'config' / f'{name}{suffix}.yaml'
        path.parent.mkdir(parents=True, exist_ok=True)
        # Demonstrations keep the configured episode length: a grasp needs its time.
        task = {} if name == 'record_demos' else self.task_overrides()
        seeds = {node: {'seed': self.options.seed + ARM_SEED_STRIDE * arm}
                 for node in SEEDED_NODES}
        merged = {'*': task}
        for layer in (seeds, sections, self.user_settings()):
            for node, params in layer.items():
                merged[node] = {**merged.get(node, {}), **params}
        document = dict(base or {})
        for node, params in merged.items():
            key = '/**' if node == '*' else f'/**/{node}'
            if params:
                section = document.get(key, {}).get('ros__parameters', {})
                document[key] = {'ros__parameters': {**section, **params}}
        path.write_text(yaml.safe_dump(document, sort_keys=True))
        return str(path)

    def user_settings(self) -> dict:
        """--set NODE.PARAM=VALUE options as {node: {param: value}} (values read as YAML)."""
        try:
            return parse_overrides(self.options.set)
        except OverrideError as error:
            raise RuntimeError(str(error)) from None  # what stops a job with its message

    def task_overrides(self) -> dict:
        values = {}
        if self.options.episode_seconds:
            values['control_time_s'] = self.options.episode_seconds
        return values

    def graph(self, name: str, overrides: dict, arm: int = 0) -> Graph:
        """One graph of the job; `arm` > 0: the robot side of another arm of a train graph, in
        its own namespace, output folder (RunLayout.arm) and console port, feeding the first
        arm's learner."""
        # The training graph runs the learner beside the control loop: it needs the simulation
        # slowed for the actor to keep its rate on a small CPU. Evaluations (the rounds and the
        # eval graph) speed up to sim.yaml's evaluation_real_time_factor once the actor says it
        # evaluates: the learner rests then, and sim time holds at each tick for the actor's
        # command, so the speed does not change what the policy meets. Demonstrations have no
        # policy.
        factor = self.options.real_time_factor if name in ('train', 'eval') else 1.0
        robot = robot_name(arm)
        arguments = {'sim': 'true', 'output_dir': str(self.layout.arm(robot).root),
                     'real_time_factor': str(factor),
                     'config_file': self.overrides_file(name, overrides, arm=arm)}
        port = self.options.console_port
        arguments.update({'console': 'false'} if port < 0 else
                         {'console_port': str(port + arm if port else 0)})
        if not arm:
            return Graph(name, arguments, quiet=True)
        # Its own simulated clock: two simulations publishing one /clock would drag each
        # other's time back and forth.
        arguments.update(robot=robot, clock=f'/{robot}/clock')
        return Graph(name, arguments, only=robot_side(name, arguments), quiet=True)

    def watch(self, graphs, finished, describe, period_s: float = 10.0):
        """Run the graphs (one Graph or a list, started in order) until `finished()` (or a
        stop request, or a dead node); a progress line every `period_s`."""
        graphs = graphs if isinstance(graphs, list) else [graphs]
        consoles = [ConsoleAnnouncement(Path(g.arguments['output_dir']) / 'logs' / 'console.log'
                                        if any(s.name == 'console' for s in g.specs) else None)
                    for g in graphs]
        try:
            for graph in graphs:
                graph.start()
                self.say(f'started {", ".join(s.name for s in graph.specs)}; logs in '
                         f'{graph.arguments["output_dir"]}/logs')
            next_line = time.monotonic() + period_s
            while not finished():
                for console in consoles:
                    line = console.poll()
                    if line:
                        self.say(line)
                if self.stop_requested.wait(0.5):
                    raise Stopped()
                self.check_nodes(graphs, finished)
                if time.monotonic() >= next_line:
                    self.say(describe())
                    next_line = time.monotonic() + period_s
        finally:
            for graph in graphs:
                graph.stop()

    @staticmethod
    def check_nodes(graphs, finished):
        """RuntimeError naming the first required node that died, unless the work is done."""
        for graph in graphs:
            dead = graph.failed_required()
            if dead is not None and not finished():
                log = Path(graph.arguments['output_dir']) / 'logs' / f'{dead.spec.name}.log'
                raise RuntimeError(
                    f'{required_exit_message(dead.spec.name, dead.process.returncode)}; '
                    f'see {log}')

    def command(self, args, log_name: str, shown: str = '') -> str:
        """A CLI step with its output on the terminal and in logs/<log_name>.log; returns the
        output. `shown`: the command line to print (default: `args` joined)."""
        log_path = self.out / 'logs' / f'{log_name}.log'
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.say(shown or ' '.join(args))
        output = []
        with open(log_path, 'a') as log:
            process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       text=True)
            for line in process.stdout:
                log.write(line)
                output.append(line)
                sys.stdout.write('    ' + line)
                if self.stop_requested.is_set():
                    process.send_signal(signal.SIGINT)
            process.wait()
        self.check_stop()
        if process.returncode != 0:
            raise RuntimeError(f'{args[0]} {args[1]} failed (exit {process.returncode}); '
                               f'see {log_path}')
        return ''.join(output)


class ConsoleAnnouncement:
    """The console's URL, once, from its log (the port may be chosen at start; the log is
    appended to by every graph, so only what this graph's console wrote counts)."""

    def __init__(self, log: Optional[Path]):
        self.log = log
        self.offset = log.stat().st_size if log is not None and log.exists() else 0
        self.deadline = time.monotonic() + CONSOLE_WAIT_S
        self.done = log is None

    def poll(self) -> str:
        if self.done:
            return ''
        text = self.log.read_text(errors='replace')[self.offset:] if self.log.exists() else ''
        found = CONSOLE_URL.search(text)
        if found:
            self.done = True
            return f'operator console: {found.group(1)}'
        if time.monotonic() > self.deadline:
            self.done = True
            return f'the operator console did not start: see {self.log}'
        return ''
