"""The `workspace_markers` node: publishes the task's workspace markers for rviz2, latched.

Bounds and reset pose come from config/task.yaml. The cube region is asked from the running
simulation's own parameters (node `cube_region_node`, e.g. `sim`), so the picture shows what the
simulation really uses, overrides included; the markers are published again once it answers.
"""
from rcl_interfaces.msg import ParameterType
from rclpy.parameter import parameter_value_to_python
from rclpy.parameter_client import AsyncParameterClient
from visualization_msgs.msg import MarkerArray

from hilserl_bringup.monitoring.workspace_markers import (
    CubeRegion,
    WorkspaceMarkersConfig,
    workspace_markers,
)
from hilserl_common import qos
from hilserl_common.node import Node, main_for
from hilserl_common.params import load_config

CUBE_REGION_PARAMETERS = ('cube_region_min', 'cube_region_max', 'cube_size_m')
ASK_PERIOD_S = 1.0


class WorkspaceMarkersNode(Node):
    def __init__(self):
        super().__init__('workspace_markers')
        self.config = load_config(self, WorkspaceMarkersConfig)
        self.cube_region = None
        self.publisher = self.create_publisher(MarkerArray, 'workspace_markers', qos.LATCHED)
        self._publish()
        self._asking = None
        if self.config.cube_region_node:
            self.sim_parameters = AsyncParameterClient(self, self.config.cube_region_node)
            self._ask_timer = self.create_timer(ASK_PERIOD_S, self._ask_cube_region)

    def _publish(self):
        self.publisher.publish(workspace_markers(self.config, self.cube_region))

    def _ask_cube_region(self):
        if self._asking is not None or not self.sim_parameters.services_are_ready():
            return  # the simulation is not up yet (or still answering): ask again later
        self._asking = self.sim_parameters.get_parameters(list(CUBE_REGION_PARAMETERS))
        self._asking.add_done_callback(self._on_cube_region)

    def _on_cube_region(self, future):
        self._asking = None
        try:
            values = future.result().values
            self.cube_region = cube_region_from(values)
        except (AttributeError, ValueError, TypeError) as error:
            self.get_logger().warning(f'no cube region from node '
                                      f'{self.config.cube_region_node!r}: {error}')
        self._ask_timer.cancel()  # asked once it answered; a bad answer is not retried
        self._publish()


def cube_region_from(values) -> CubeRegion:
    """CubeRegion from rcl_interfaces ParameterValues in CUBE_REGION_PARAMETERS order."""
    if len(values) != len(CUBE_REGION_PARAMETERS) or any(
            v.type == ParameterType.PARAMETER_NOT_SET for v in values):
        raise ValueError(f'the node does not have the parameters '
                         f'{", ".join(CUBE_REGION_PARAMETERS)}')
    xy_min, xy_max, size = (parameter_value_to_python(v) for v in values)
    try:
        xy_min, xy_max, size = [float(v) for v in xy_min], [float(v) for v in xy_max], float(size)
    except TypeError:
        raise ValueError(f'cube region parameters should be numbers, got {xy_min}, {xy_max}, '
                         f'{size}') from None
    if len(xy_min) != 2 or len(xy_max) != 2:
        raise ValueError(f'cube_region_min/max should be two numbers each, got {xy_min}, {xy_max}')
    return CubeRegion(tuple(xy_min), tuple(xy_max), size)


main = main_for(WorkspaceMarkersNode)
