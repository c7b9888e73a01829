"""The launch files build the same nodes as the graph description, and a required node's exit
fails the launch (needs launch_ros: a real ROS install; skipped where only the PyPI wheels are
installed)."""
import importlib.util
import logging
import os
import time

import pytest

launch_ros = pytest.importorskip('launch_ros', reason='launch_ros is not installed (no ROS 2)')

from launch.actions import DeclareLaunchArgument, OpaqueFunction, TimerAction  # noqa: E402

from hilserl_bringup.graph import GRAPHS, resolve_arguments  # noqa: E402
from launch import LaunchContext  # noqa: E402

LAUNCH_DIR = os.path.join(os.path.dirname(__file__), '..', 'launch')
CONFIG_DIR = os.path.join(os.path.dirname(__file__), '..', 'config')


def load(graph):
    path = os.path.join(LAUNCH_DIR, f'{graph}.launch.py')
    spec = importlib.util.spec_from_file_location(graph, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate_launch_description()


@pytest.mark.parametrize('graph', sorted(GRAPHS))
def test_launch_file_declares_the_arguments_and_builds_the_graph(graph):
    description = load(graph)
    declared = [e for e in description.entities if isinstance(e, DeclareLaunchArgument)]
    assert {'sim', 'robot', 'output_dir'} <= {a.name for a in declared}
    assert all(a.description for a in declared)
    context = LaunchContext()
    for argument in declared:
        context.launch_configurations[argument.name] = argument.default_value[0].text
    opaque = next(e for e in description.entities if isinstance(e, OpaqueFunction))
    nodes = opaque.execute(context)
    expected = [s.executable for s in GRAPHS[graph](resolve_arguments(graph, {}))]
    assert [n.node_executable for n in nodes] == expected


@pytest.mark.parametrize('graph', sorted(GRAPHS))
@pytest.mark.parametrize('rviz, rqt, extra', [
    ('true', 'false', ['robot_state_publisher', 'rviz2']),
    ('false', 'true', ['aggregator_node', 'rqt_gui']),
    ('true', 'true', ['robot_state_publisher', 'rviz2', 'aggregator_node', 'rqt_gui']),
])
def test_rviz_and_rqt_add_their_ros_only_nodes_after_the_graph(graph, rviz, rqt, extra):
    description = load(graph)
    declared = [e for e in description.entities if isinstance(e, DeclareLaunchArgument)]
    assert {'rviz', 'rqt'} <= {a.name for a in declared}
    context = LaunchContext()
    for argument in declared:
        context.launch_configurations[argument.name] = argument.default_value[0].text
    context.launch_configurations.update(
        rviz=rviz, rqt=rqt, robot='arm2',
        config_dir=os.path.join(os.path.dirname(__file__), '..', 'config'))
    opaque = next(e for e in description.entities if isinstance(e, OpaqueFunction))
    nodes = [n for e in opaque.execute(context)
             for n in (e.actions if isinstance(e, TimerAction) else [e])]
    expected = [s.executable for s in GRAPHS[graph](resolve_arguments(graph, {}))]
    assert [n.node_executable for n in nodes] == expected + extra


def run_launch(*entities):
    """The exit code of a launch of `entities` and what launch itself logged."""
    from launch import LaunchDescription, LaunchService
    records = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())
    logging.getLogger('launch').addHandler(handler)
    try:
        service = LaunchService()
        service.include_launch_description(LaunchDescription(list(entities)))
        return service.run(), '\n'.join(records)
    finally:
        logging.getLogger('launch').removeHandler(handler)


def test_a_required_nodes_failure_fails_the_launch_and_names_the_node(tmp_path):
    """The reward classifier without a model stops with a configuration error (exit 2): the
    other processes stop, and ros2 launch exits non-zero saying which node and why."""
    from launch.actions import ExecuteProcess

    from hilserl_bringup.graph import NodeSpec
    from hilserl_bringup.launch_description import launch_node
    classifier = NodeSpec('reward_classifier', 'reward_classifier', 'reward_classifier',
                          ('task.yaml', 'reward_classifier.yaml'),
                          {'model_path': str(tmp_path / 'no_model')})
    started = time.monotonic()
    code, output = run_launch(
        launch_node(classifier, resolve_arguments('eval', {}), CONFIG_DIR, str(tmp_path)),
        ExecuteProcess(cmd=['sleep', '120'], name='bystander'))
    assert code != 0
    assert 'required node reward_classifier exited with code 2 (a configuration error' in output
    assert time.monotonic() - started < 60, 'the other process was not stopped'


def test_a_required_node_stopped_by_a_shutdown_is_no_failure(tmp_path):
    from launch.actions import EmitEvent
    from launch.events import Shutdown

    from hilserl_bringup.graph import NodeSpec
    from hilserl_bringup.launch_description import launch_node
    markers = NodeSpec('hilserl_bringup', 'workspace_markers', 'workspace_markers', ('task.yaml',))
    code, output = run_launch(
        launch_node(markers, resolve_arguments('eval', {}), CONFIG_DIR, str(tmp_path)),
        TimerAction(period=3.0, actions=[EmitEvent(event=Shutdown(reason='done'))]))
    assert code == 0, output
    assert 'required node' not in output
