"""Workspace markers: what rviz draws is the task's bounds, reset pose and the simulation's cube
region; the node publishes them latched over rclpy and refuses a bad configuration."""
import os
import subprocess
import time

import numpy as np
import pytest
from ament_index_python.packages import get_package_prefix
from visualization_msgs.msg import Marker, MarkerArray

from hilserl_bringup.graph import GRAPHS, resolve_arguments
from hilserl_bringup.monitoring.markers_node import cube_region_from
from hilserl_bringup.monitoring.workspace_markers import (
    CubeRegion,
    WorkspaceMarkersConfig,
    workspace_markers,
)
from hilserl_bringup.runner import Graph
from hilserl_common import qos
from hilserl_common.config import ConfigError, from_dict, load_yaml_section
from hilserl_testing.nodes import ProbeNode, stop_process, unclean_stops

CONFIG = os.path.join(os.path.dirname(__file__), '..', 'config')
TASK = load_yaml_section(os.path.join(CONFIG, 'task.yaml'), 'workspace_markers')
SIM = load_yaml_section(os.path.join(CONFIG, 'sim.yaml'), 'sim')


def task_config(**changes):
    """The markers' config from task.yaml, the way the node reads it (its own fields only)."""
    names = {'ee_bounds_min', 'ee_bounds_max', 'reset_ee_position', 'reset_ee_noise_m'}
    return from_dict(WorkspaceMarkersConfig,
                     {**{k: v for k, v in TASK.items() if k in names}, **changes})


def by_ns(array: MarkerArray):
    return {(m.ns, m.id): m for m in array.markers}


def xyz(points):
    return np.array([[p.x, p.y, p.z] for p in points])


def test_the_bounds_box_has_the_twelve_edges_of_the_task_bounds():
    config = task_config()
    box = by_ns(workspace_markers(config))[('ee_bounds', 0)]
    assert box.type == Marker.LINE_LIST and len(box.points) == 24
    points = xyz(box.points)
    lower, upper = np.array(TASK['ee_bounds_min']), np.array(TASK['ee_bounds_max'])
    # every point is a corner, every corner is used, and each edge runs along one axis
    assert np.all(np.isclose(points, lower) | np.isclose(points, upper))
    assert len({tuple(p) for p in points}) == 8
    edges = points.reshape(12, 2, 3)
    assert all(np.count_nonzero(~np.isclose(a, b)) == 1 for a, b in edges)


def test_reset_pose_and_its_noise_box():
    config = task_config()
    markers = by_ns(workspace_markers(config))
    point, noise = markers[('reset_pose', 0)], markers[('reset_pose', 1)]
    for marker in (point, noise):
        p = marker.pose.position
        assert [p.x, p.y, p.z] == pytest.approx(TASK['reset_ee_position'])
    assert noise.scale.x == pytest.approx(2 * TASK['reset_ee_noise_m'])
    assert all(m.header.frame_id == 'base' for m in markers.values())
    assert ('cube_region', 0) not in markers


def test_cube_region_is_a_closed_rectangle_at_the_cube_centre_height():
    config = task_config()
    region = CubeRegion(tuple(SIM['cube_region_min']), tuple(SIM['cube_region_max']),
                        SIM['cube_size_m'])
    strip = by_ns(workspace_markers(config, region))[('cube_region', 0)]
    points = xyz(strip.points)
    assert len(points) == 5 and np.allclose(points[0], points[-1])
    assert np.allclose(points[:, :2].min(axis=0), SIM['cube_region_min'])
    assert np.allclose(points[:, :2].max(axis=0), SIM['cube_region_max'])
    assert np.allclose(points[:, 2], SIM['cube_size_m'] / 2)


def test_inverted_bounds_are_refused_by_name():
    with pytest.raises(ConfigError, match='ee_bounds_min'):
        task_config(ee_bounds_min=[0.4, -0.15, 0.01])


def test_a_node_without_the_cube_parameters_gives_a_clear_error():
    from rcl_interfaces.msg import ParameterValue
    with pytest.raises(ValueError, match='cube_region_min'):
        cube_region_from([ParameterValue(), ParameterValue(), ParameterValue()])


class MarkersProbe(ProbeNode):
    """Listens to the markers of one robot namespace."""

    def __init__(self, namespace):
        super().__init__('markers_probe', namespace)
        self.received = []
        self.spin_in_background()

    def listen(self):
        return self.node.create_subscription(MarkerArray, 'workspace_markers',
                                             self.received.append, qos.LATCHED)

    def wait_for(self, predicate, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in list(self.received):
                if predicate(message):
                    return message
            time.sleep(0.05)
        raise AssertionError(f'no such markers in {len(self.received)} messages')


def start_markers(namespace, *parameters, log):
    executable = os.path.join(get_package_prefix('hilserl_bringup'), 'lib', 'hilserl_bringup',
                              'workspace_markers')
    args = ['--ros-args', '-r', f'__ns:={namespace}',
            '--params-file', os.path.join(CONFIG, 'task.yaml')]
    for p in parameters:
        args += ['-p', p]
    return subprocess.Popen([executable] + args, stdout=log, stderr=subprocess.STDOUT)




@pytest.mark.graph
def test_the_graph_draws_the_task_bounds_and_the_real_sims_cube_region_latched(tmp_path):
    # the simulated record_demos graph through the runner, reduced to the sim and the markers
    graph = Graph('record_demos', {'output_dir': str(tmp_path)},
                  only=['sim', 'workspace_markers'], quiet=True)
    probe = MarkersProbe('/so101')
    graph.start()
    try:
        probe.listen()
        has_region = lambda m: ('cube_region', 0) in by_ns(m)  # noqa: E731
        received = probe.wait_for(has_region, timeout=60)
        box = xyz(by_ns(received)[('ee_bounds', 0)].points)
        assert np.allclose(box.min(axis=0), TASK['ee_bounds_min'])
        assert np.allclose(box.max(axis=0), TASK['ee_bounds_max'])
        region = xyz(by_ns(received)[('cube_region', 0)].points)
        assert np.allclose(region[:, :2].min(axis=0), SIM['cube_region_min'])
        assert np.allclose(region[:, :2].max(axis=0), SIM['cube_region_max'])
        # Latched: a subscriber that joins later still gets them, cube region included.
        probe.received.clear()
        probe.listen()
        probe.wait_for(has_region, timeout=5)
        assert graph.running()
    finally:
        probe.close()
        graph.stop()
    failures = unclean_stops(graph.nodes)
    assert not failures, failures


@pytest.mark.graph
def test_a_bad_parameter_stops_the_node_with_its_name(tmp_path):
    log_path = tmp_path / 'markers.log'
    with open(log_path, 'w') as log:
        markers = start_markers('/markers_bad', 'reset_ee_noise_m:=-0.5', log=log)
    try:
        markers.wait(timeout=30)
    finally:
        stop_process(markers, name='workspace_markers', log_path=log_path)
    assert markers.returncode == 2
    assert 'reset_ee_noise_m' in log_path.read_text()


@pytest.mark.parametrize('graph', sorted(GRAPHS))
@pytest.mark.parametrize('sim', ['true', 'false'])
def test_every_graph_runs_the_markers_as_an_optional_node(graph, sim):
    specs = {s.name: s for s in GRAPHS[graph](resolve_arguments(graph, {'sim': sim}))}
    markers = specs['workspace_markers']
    assert markers.executable == 'workspace_markers' and not markers.required
    assert markers.params_files == ('task.yaml',)
    # the cube region is asked from the simulation, which only the simulated graphs run
    assert markers.parameters['cube_region_node'] == ('sim' if sim == 'true' else '')
    assert (markers.parameters['cube_region_node'] in specs) == (sim == 'true')


def test_the_operator_keys_device_reaches_the_leader_only_when_given():
    def leader(given):
        specs = GRAPHS['record_demos'](resolve_arguments('record_demos', {'sim': 'false', **given}))
        return next(s for s in specs if s.name == 'leader').parameters
    assert leader({'key_device': '/dev/input/event7'})['key_device'] == '/dev/input/event7'
    assert 'key_device' not in leader({})  # leader.yaml's value stands
