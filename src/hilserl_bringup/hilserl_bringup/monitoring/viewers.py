"""rviz2 and rqt for `ros2 launch ... rviz:=true rqt:=true`: the launch arguments and the files.

robot_state_publisher, rviz2, diagnostic_aggregator and rqt exist only on a real ROS install, so
the launch files start them (hilserl_bringup.launch_description) and the runner never does; the
runner has no such arguments. No ROS import here.
"""
import os
import tempfile

from hilserl_bringup.graph import Argument
from hilserl_common.run_layout import DEFAULT_ROBOT

RVIZ_ARGUMENT = Argument(
    'rviz', 'false', 'Also start robot_state_publisher and rviz2 with config/rviz/hilserl.rviz '
    '(ros2 launch only: both need a ROS install; run_graph has no such argument).',
    ('true', 'false'))
RQT_ARGUMENT = Argument(
    'rqt', 'false', 'Also start diagnostic_aggregator and rqt with '
    'config/rqt/hilserl.perspective (ros2 launch only; run_graph has no such argument).',
    ('true', 'false'))
MONITORING_ARGUMENTS = (RVIZ_ARGUMENT, RQT_ARGUMENT)

RVIZ_CONFIG = os.path.join('rviz', 'hilserl.rviz')
RQT_PERSPECTIVE = os.path.join('rqt', 'hilserl.perspective')
DIAGNOSTIC_ANALYZERS = os.path.join('rqt', 'diagnostic_analyzers.yaml')


def for_robot(config_dir: str, name: str, robot: str) -> str:
    """A monitoring file of config_dir, its topics moved from /so101 to the robot's namespace."""
    path = os.path.join(config_dir, name)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'monitoring file {path} does not exist')
    robot = robot.strip('/')
    if robot == DEFAULT_ROBOT:
        return path
    with open(path) as stream:
        text = stream.read().replace(f'/{DEFAULT_ROBOT}/', f'/{robot}/')
    stem, suffix = os.path.splitext(os.path.basename(name))
    handle, moved = tempfile.mkstemp(prefix=f'{stem}_{robot}_', suffix=suffix)
    with os.fdopen(handle, 'w') as stream:
        stream.write(text)
    return moved
