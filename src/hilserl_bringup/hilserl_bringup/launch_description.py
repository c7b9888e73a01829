"""launch_ros descriptions of the graphs in hilserl_bringup.graph, for `ros2 launch`.

Parameters apply in the runner's order (hilserl_bringup.parameters); a required node's exit stops
the graph, as with the runner, and makes `ros2 launch` exit non-zero (launch's own code, 1: it has
no way to pass on the node's), saying which node exited, with which code and why.
"""
import os
import tempfile

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, OpaqueFunction, TimerAction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from hilserl_bringup.graph import (
    GRAPH_ARGUMENTS,
    GRAPHS,
    NodeSpec,
    flag,
    namespace_of,
    resolve_arguments,
    uses_sim_time,
)
from hilserl_bringup.monitoring.viewers import (
    DIAGNOSTIC_ANALYZERS,
    MONITORING_ARGUMENTS,
    RQT_ARGUMENT,
    RQT_PERSPECTIVE,
    RVIZ_ARGUMENT,
    RVIZ_CONFIG,
    for_robot,
)
from hilserl_bringup.parameters import parameter_files
from hilserl_bringup.runner import required_exit_message
from hilserl_common.dds_shm import remove_unfinished_ports
from launch import LaunchDescription
from so101_description.robot_description import robot_description

RQT_DELAY_S = 20.0


class RequiredNodeExited(RuntimeError):
    """Raised from the exit handler of a required node: launch logs the message, stops every
    process and returns 1, the only way a launch file can make `ros2 launch` fail."""


def stop_on_exit(name: str):
    """An on_exit callable for a required node (Ctrl-C, which stops it too, is no failure)."""
    def on_exit(event, context):
        if context.is_shutdown:
            return None
        raise RequiredNodeExited(required_exit_message(name, event.returncode))
    return on_exit


def launch_node(spec: NodeSpec, args, config_dir: str, parameters_dir: str) -> Node:
    return Node(package=spec.package, executable=spec.executable, name=spec.name,
                namespace=namespace_of(spec, args['robot']),
                parameters=parameter_files(spec, config_dir, args['config_file'], parameters_dir),
                remappings=list(spec.remappings), output='screen', emulate_tty=True,
                on_exit=stop_on_exit(spec.name) if spec.required else None)


def _nodes(context, graph_name):
    given = {a.name: LaunchConfiguration(a.name).perform(context)
             for a in GRAPH_ARGUMENTS[graph_name]}
    args = resolve_arguments(graph_name, given)
    remove_unfinished_ports()  # a node that took one would never come up (hilserl_common.dds_shm)
    config_dir = args['config_dir'] or os.path.join(
        get_package_share_directory('hilserl_bringup'), 'config')
    # Like launch_ros's own parameter files: a temporary folder, not the run's output.
    parameters_dir = tempfile.mkdtemp(prefix='hilserl_graph_parameters_')
    return [launch_node(spec, args, config_dir, parameters_dir)
            for spec in GRAPHS[graph_name](args)] + _monitoring(context, args, config_dir)


def _monitoring(context, args, config_dir):
    """rviz:=true: robot_state_publisher (the SO-101 URDF driven by joint_states) and rviz2;
    rqt:=true: diagnostic_aggregator (for rqt_robot_monitor) and rqt with the perspective.
    Real ROS installs only, so they are not in the graph description the runner uses."""
    namespace = '/' + args['robot'].strip('/')
    sim_time = {'use_sim_time': uses_sim_time(args)}
    nodes = []
    if flag(LaunchConfiguration(RVIZ_ARGUMENT.name).perform(context)):
        nodes += [
            Node(package='robot_state_publisher', executable='robot_state_publisher',
                 name='robot_state_publisher', namespace=namespace, output='screen',
                 parameters=[{'robot_description': robot_description(), **sim_time}]),
            Node(package='rviz2', executable='rviz2', name='rviz2', namespace=namespace,
                 arguments=['-d', for_robot(config_dir, RVIZ_CONFIG, args['robot'])],
                 parameters=[sim_time], output='screen'),
        ]
    if flag(LaunchConfiguration(RQT_ARGUMENT.name).perform(context)):
        nodes += [
            Node(package='diagnostic_aggregator', executable='aggregator_node',
                 parameters=[os.path.join(config_dir, DIAGNOSTIC_ANALYZERS), sim_time],
                 output='screen'),
            # rqt_plot drops a plotted topic that does not exist yet when it starts, so rqt
            # waits for the actor and learner to have created their publishers.
            TimerAction(period=RQT_DELAY_S, actions=[
                Node(package='rqt_gui', executable='rqt_gui', name='rqt', namespace=namespace,
                     arguments=['--perspective-file',
                                for_robot(config_dir, RQT_PERSPECTIVE, args['robot'])],
                     parameters=[sim_time], output='screen')]),
        ]
    return nodes


def generate(graph_name: str) -> LaunchDescription:
    arguments = [DeclareLaunchArgument(a.name, default_value=a.default, description=a.description,
                                       **({'choices': list(a.choices)} if a.choices else {}))
                 for a in GRAPH_ARGUMENTS[graph_name] + MONITORING_ARGUMENTS]
    return LaunchDescription(arguments + [OpaqueFunction(function=_nodes, args=[graph_name])])
