"""launch_ros descriptions of the graphs in hilserl_bringup.graph, for `ros2 launch`."""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, Shutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from hilserl_bringup.graph import GRAPH_ARGUMENTS, GRAPHS, namespace_of, resolve_arguments


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
    ]


def generate(graph_name: str) -> LaunchDescription:
    arguments = [DeclareLaunchArgument(a.name, default_value=a.default, description=a.description,
                                       **({'choices': list(a.choices)} if a.choices else {}))
                 for a in GRAPH_ARGUMENTS[graph_name]]
    return LaunchDescription(arguments + [OpaqueFunction(function=_nodes, args=[graph_name])])
