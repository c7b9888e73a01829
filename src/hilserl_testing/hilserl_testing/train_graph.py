"""A short train graph for graph tests that start its halves apart (hilserl_bringup.runner.Graph
with `only=`): the robot side's nodes, parameters that make it small and fast (2.5 s episodes,
a small policy on the CPU, rewards from the simulation, frequent weights and statistics), and
waiting on the run's files while failing at once when a node dies."""
import copy
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import yaml

from hilserl_testing.nodes import log_tail, unclean_stops

ROBOT_NODES = ['sim', 'operator', 'kinematics', 'actor']
WAIT_S = 90.0  # a loaded 2-core machine: generous, on conditions only
SHORT_TRAIN = {
    '/**': {'ros__parameters': {'control_time_s': 2.5}},
    '/**/actor': {'ros__parameters': {'reward_source': 'sim'}},
    '/**/learner': {'ros__parameters': {
        'batch_size': 16, 'training_starts': 10, 'utd_ratio': 1.0, 'latent_dim': 16,
        'hidden_dims': [32, 32], 'gripper_hidden_dims': [16], 'device': 'cpu',
        'weights_period_s': 0.5, 'stats_period_s': 0.5}},
}


def short_train_arguments(directory: Path, actor: Optional[dict] = None, **arguments) -> dict:
    """The train graph's launch arguments: its output and SHORT_TRAIN in `directory` (with
    the `actor` parameters given), a robot namespace of its own, no console, then `arguments`."""
    parameters = copy.deepcopy(SHORT_TRAIN)
    parameters['/**/actor']['ros__parameters'].update(actor or {})
    overrides = directory / 'overrides.yaml'
    overrides.write_text(yaml.safe_dump(parameters))
    return {'output_dir': str(directory), 'config_file': str(overrides),
            'robot': f'r{uuid.uuid4().hex[:8]}', 'console': 'false', **arguments}


def wait_for(predicate, what: str, graphs, timeout: float = WAIT_S):
    """The predicate's first true value; fails at once when a required node of the graphs
    (hilserl_bringup.runner.Graph) exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        for graph in graphs:
            dead = graph.failed_required()
            assert dead is None, (f'{dead.spec.name} exited with code '
                                  f'{dead.process.returncode}{log_tail(dead.log_path)}')
        time.sleep(0.2)
    raise AssertionError(f'waited {timeout:.0f} s for {what}')


@contextmanager
def running(*graphs):
    """Start the graphs (hilserl_bringup.runner.Graph) in the order given; on the way out stop
    them all, and when the body finished, fail unless every node exited cleanly."""
    try:
        for graph in graphs:
            graph.start()
        yield graphs
    finally:
        for graph in reversed(graphs):
            graph.stop()
    failures = unclean_stops([node for graph in graphs for node in graph.nodes])
    assert not failures, failures
