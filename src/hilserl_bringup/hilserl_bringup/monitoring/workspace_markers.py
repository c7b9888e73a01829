"""What rviz draws of the task: the EE workspace bounds, the reset pose and the cube region.

Built as a visualization_msgs/MarkerArray from the same task parameters every node reads
(config/task.yaml), so the picture is what the actor and the kinematics enforce. No rclpy here.
"""
import dataclasses
import itertools
from typing import Optional, Sequence, Tuple

from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from hilserl_common.config import ConfigError, length, non_negative, param

BOUNDS_COLOUR = (0.1, 0.8, 0.2, 1.0)
RESET_COLOUR = (0.2, 0.4, 1.0, 1.0)
RESET_NOISE_COLOUR = (0.2, 0.4, 1.0, 0.25)
CUBE_REGION_COLOUR = (0.9, 0.1, 0.1, 1.0)
LINE_WIDTH_M = 0.002
RESET_SPHERE_M = 0.012
LABEL_HEIGHT_M = 0.015


@dataclasses.dataclass(frozen=True)
class WorkspaceMarkersConfig:
    ee_bounds_min: list = param([0.10, -0.15, -0.02], 'lower corner of the EE workspace box (m)',
                                length(3))
    ee_bounds_max: list = param([0.35, 0.15, 0.25], 'upper corner of the EE workspace box (m)',
                                length(3))
    reset_ee_position: list = param([0.25, 0.0, 0.07], 'EE position of the reset (m)', length(3))
    reset_ee_noise_m: float = param(0.01, 'random reset offset per axis (m)', non_negative)
    frame_id: str = param('base', 'frame of the markers: the arm base, like ee_pose')
    cube_region_node: str = param('', 'node whose cube_region_min/max and cube_size_m parameters '
                                      'are drawn (the simulation: "sim"); empty: no cube region')

    def __post_init__(self):
        if any(lo >= hi for lo, hi in zip(self.ee_bounds_min, self.ee_bounds_max)):
            raise ConfigError(f'ee_bounds_min {self.ee_bounds_min} must be below ee_bounds_max '
                              f'{self.ee_bounds_max} on every axis')


@dataclasses.dataclass(frozen=True)
class CubeRegion:
    """Where the simulation places the cube: an x, y rectangle on the table (m)."""
    xy_min: Tuple[float, float]
    xy_max: Tuple[float, float]
    cube_size_m: float


def workspace_markers(config: WorkspaceMarkersConfig,
                      cube_region: Optional[CubeRegion] = None) -> MarkerArray:
    """The markers, stamped 0 (drawn in the latest transform of the fixed base frame)."""
    markers = [
        _box_edges('ee_bounds', config.ee_bounds_min, config.ee_bounds_max, BOUNDS_COLOUR),
        _label('ee_bounds', 'EE bounds', config.ee_bounds_max, BOUNDS_COLOUR),
        _reset_point(config.reset_ee_position),
        _reset_noise(config.reset_ee_position, config.reset_ee_noise_m),
    ]
    if cube_region is not None:
        markers.append(_cube_region(cube_region))
    for marker in markers:
        marker.header.frame_id = config.frame_id
        marker.action = Marker.ADD
        marker.pose.orientation.w = 1.0
        marker.frame_locked = True
    return MarkerArray(markers=markers)


def _colour(rgba) -> ColorRGBA:
    return ColorRGBA(r=rgba[0], g=rgba[1], b=rgba[2], a=rgba[3])


def _point(xyz) -> Point:
    return Point(x=float(xyz[0]), y=float(xyz[1]), z=float(xyz[2]))


def _box_edges(ns: str, lower: Sequence[float], upper: Sequence[float], rgba) -> Marker:
    """The 12 edges of an axis-aligned box as a LINE_LIST (a wireframe does not hide the arm)."""
    corners = list(itertools.product(*zip(lower, upper)))
    edges = [(a, b) for a, b in itertools.combinations(corners, 2)
             if sum(x != y for x, y in zip(a, b)) == 1]
    marker = Marker(ns=ns, id=0, type=Marker.LINE_LIST, color=_colour(rgba))
    marker.scale.x = LINE_WIDTH_M
    marker.points = [_point(corner) for edge in edges for corner in edge]
    return marker


def _label(ns: str, text: str, at: Sequence[float], rgba) -> Marker:
    marker = Marker(ns=ns, id=1, type=Marker.TEXT_VIEW_FACING, text=text, color=_colour(rgba))
    marker.pose.position = _point([at[0], at[1], at[2] + LABEL_HEIGHT_M])
    marker.scale.z = LABEL_HEIGHT_M
    return marker


def _reset_point(position: Sequence[float]) -> Marker:
    marker = Marker(ns='reset_pose', id=0, type=Marker.SPHERE, color=_colour(RESET_COLOUR))
    marker.pose.position = _point(position)
    marker.scale.x = marker.scale.y = marker.scale.z = RESET_SPHERE_M
    return marker


def _reset_noise(position: Sequence[float], noise_m: float) -> Marker:
    """The box the randomised reset position falls in (± noise per axis)."""
    marker = Marker(ns='reset_pose', id=1, type=Marker.CUBE, color=_colour(RESET_NOISE_COLOUR))
    marker.pose.position = _point(position)
    marker.scale.x = marker.scale.y = marker.scale.z = max(2 * noise_m, 1e-4)
    return marker


def _cube_region(region: CubeRegion) -> Marker:
    """The rectangle the cube's centre is placed in, drawn at the height of the cube's centre."""
    (x0, y0), (x1, y1), z = region.xy_min, region.xy_max, region.cube_size_m / 2
    marker = Marker(ns='cube_region', id=0, type=Marker.LINE_STRIP,
                    color=_colour(CUBE_REGION_COLOUR))
    marker.scale.x = LINE_WIDTH_M
    marker.points = [_point(p) for p in
                     ((x0, y0, z), (x1, y0, z), (x1, y1, z), (x0, y1, z), (x0, y0, z))]
    return marker
