"""launch_ros descriptions of the graphs in hilserl_bringup.graph, for `ros2 launch`."""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, Shutdown, TimerAction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from hilserl_bringup.graph import (GRAPH_ARGUMENTS, GRAPHS, _flag, _uses_sim_time, namespace_of,
                                   resolve_arguments)
from hilserl_bringup.monitoring.robot_description import robot_description
from hilserl_bringup.monitoring.viewers import (DIAGNOSTIC_ANALYZERS, MONITORING_ARGUMENTS,
                                            RQT_ARGUMENT, RQT_PERSPECTIVE, RVIZ_ARGUMENT,
                                            RVIZ_CONFIG, for_robot)

RQT_DELAY_S = 20.0


def _nodes(context, graph_name):
    given = {a.name: LaunchConfiguration(a.name).perform(context)
             for a in GRAPH_ARGUMENTS[graph_name]}
    args = resolve_arguments(graph_name, given)
    config_dir = args['config_dir'] or os.path.join(
        get_package_share_directory('hilserl_bringup'), 'config')
    overrides = [args['config_file']] if args['config_file'] else []
    return [
        Node(package=spec.package, executable=spec.executable, name=spec.name,
             namespace=namespace_of(spec, args['robot']),
             parameters=[os.path.join(config_dir, f) for f in spec.params_files]
             + overrides + [spec.parameters],
             remappings=list(spec.remappings), output='screen', emulate_tty=True,
             # like the runner: a required node's exit stops the whole graph
             on_exit=Shutdown(reason=f'{spec.name} exited') if spec.required else None)
        for spec in GRAPHS[graph_name](args)
    ] + _monitoring(context, args, config_dir)


def _monitoring(context, args, config_dir):
    """rviz:=true: robot_state_publisher (the SO-101 URDF driven by joint_states) and rviz2;
    rqt:=true: diagnostic_aggregator (for rqt_robot_monitor) and rqt with the perspective.
    Real ROS installs only, so they are not in the graph description the runner uses."""
    namespace = '/' + args['robot'].strip('/')
    sim_time = {'use_sim_time': _uses_sim_time(args)}
    nodes = []
    if _flag(LaunchConfiguration(RVIZ_ARGUMENT.name).perform(context)):
        nodes += [
            Node(package='robot_state_publisher', executable='robot_state_publisher',
                 name='robot_state_publisher', namespace=namespace, output='screen',
                 parameters=[{'robot_description': robot_description(), **sim_time}]),
            Node(package='rviz2', executable='rviz2', name='rviz2', namespace=namespace,
                 arguments=['-d', for_robot(config_dir, RVIZ_CONFIG, args['robot'])],
                 parameters=[sim_time], output='screen'),
        ]
    if _flag(LaunchConfiguration(RQT_ARGUMENT.name).perform(context)):
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
