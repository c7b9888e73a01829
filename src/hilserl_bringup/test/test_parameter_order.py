"""One parameter order under the runner and `ros2 launch`: config/ < the graph < config_file:=.

The command lines are resolved by rcl itself: each test gives a node's `--ros-args`, as the runner
or launch_ros builds them, to an rclpy context and reads the parameters a node of that name gets.
The launch side needs launch_ros (a ROS install) and is skipped where it is not importable.
"""
import os

import pytest
import rclpy
import yaml
from rclpy.context import Context
from rclpy.node import Node

from hilserl_bringup.graph import GRAPHS, namespace_of, resolve_arguments
from hilserl_bringup.runner import Graph, ros_arguments

CONFIG_DIR = os.path.join(os.path.dirname(__file__), '..', 'config')


def write(path, document) -> str:
    path.write_text(yaml.safe_dump(document))
    return str(path)


@pytest.fixture
def layers(tmp_path):
    """A config dir whose operator section sets what the train graph sets too (mode), and a
    user's file that sets it once more; 'color' only config/ sets, 'size' only the user."""
    config = tmp_path / 'config'
    config.mkdir()
    write(config / 'task.yaml', {'/**': {'ros__parameters': {'mode': 'task', 'color': 'task'}}})
    write(config / 'sim.yaml', {'/**/operator': {'ros__parameters': {
        'mode': 'config', 'color': 'config'}}})
    user = write(tmp_path / 'mine.yaml', {'/**/operator': {'ros__parameters': {
        'mode': 'off', 'size': 'user'}}})
    return str(config), user


def operator_spec():
    return next(s for s in GRAPHS['train'](resolve_arguments('train', {}))
                if s.name == 'operator')


def parameters_given(ros_args, names):
    """What rcl gives a node started with `ros_args` (name and namespace come from them)."""
    context = Context()
    rclpy.init(args=['node', *ros_args], context=context)
    try:
        node = Node('unnamed', context=context,
                    automatically_declare_parameters_from_overrides=True)
        values = {n: node.get_parameter(n).value for n in names if node.has_parameter(n)}
        values['node'] = node.get_fully_qualified_name()
        node.destroy_node()
        return values
    finally:
        rclpy.shutdown(context=context)


def runner_arguments(config_dir, user_file, generated_dir):
    """The `--ros-args` the runner starts the operator of the train graph with."""
    spec = operator_spec()
    return ros_arguments(spec, namespace_of(spec, 'so101'), config_dir, user_file,
                         str(generated_dir))


def launch_arguments(config_dir, user_file, generated_dir):
    """The `--ros-args` launch_ros would start the operator of the train graph with."""
    pytest.importorskip('launch_ros', reason='launch_ros is not installed (no ROS 2)')
    from launch.utilities import perform_substitutions

    from hilserl_bringup.launch_description import launch_node
    from launch import LaunchContext
    args = resolve_arguments('train', {'config_dir': config_dir, 'config_file': user_file})
    node = launch_node(operator_spec(), args, config_dir, str(generated_dir))
    context = LaunchContext()
    node._perform_substitutions(context)  # what Node.execute does before starting the process
    context.extend_locals({'ros_specific_arguments': {
        'name': f'__node:={node.node_name.rsplit("/", 1)[1]}',
        'ns': f'__ns:={node.expanded_node_namespace}'}})
    command = [perform_substitutions(context, part) for part in node.cmd]
    return command[command.index('--ros-args'):]


SIDES = {'run_graph': runner_arguments, 'ros2 launch': launch_arguments}


@pytest.mark.parametrize('side', SIDES)
def test_the_users_file_beats_the_graph_which_beats_config(layers, tmp_path, side):
    config_dir, user_file = layers
    given = parameters_given(SIDES[side](config_dir, user_file, tmp_path),
                             ['mode', 'color', 'size', 'use_sim_time'])
    assert given == {'node': '/so101/operator', 'mode': 'off', 'color': 'config',
                     'size': 'user', 'use_sim_time': True}


@pytest.mark.parametrize('side', SIDES)
def test_without_a_users_file_the_graphs_values_beat_config(layers, tmp_path, side):
    config_dir, _ = layers
    given = parameters_given(SIDES[side](config_dir, '', tmp_path), ['mode', 'color'])
    assert given == {'node': '/so101/operator', 'mode': 'corrections', 'color': 'config'}


def test_a_graph_with_real_config_files_gives_every_node_its_graph_values(tmp_path):
    graph = Graph('train', {'sim': 'false', 'camera': '3', 'config_dir': CONFIG_DIR})
    for spec, command in zip(graph.specs, graph.commands(str(tmp_path))):
        given = parameters_given(command[1:], list(spec.parameters))
        assert given == {'node': namespace_of(spec, 'so101').rstrip('/') + '/' + spec.name,
                         **spec.parameters}, spec.name
