"""The rviz2 config and the rqt perspective show topics and fields that really exist, with a QoS
that can receive them (rviz/rqt themselves need a ROS install; their files are checked here)."""
import ast
import json
import os
import re
from pathlib import Path

import pytest
import yaml
from rclpy.qos import DurabilityPolicy, ReliabilityPolicy

from hilserl_bringup.monitoring.viewers import (
    DIAGNOSTIC_ANALYZERS,
    RQT_PERSPECTIVE,
    RVIZ_CONFIG,
    for_robot,
)
from hilserl_bringup.monitoring.workspace_markers import WorkspaceMarkersConfig
from hilserl_common import qos
from so101_description.robot_description import BASE_FRAME

SRC = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).resolve().parents[1] / 'config'
ROBOT = '/so101/'
PUBLISHER = re.compile(r"create_publisher\(\s*(\w+)\s*,\s*f?'([^']+)'\s*,\s*(?:qos\.)?(\w+)")
# cameras publish under their own name: f'{name}/image_proc' and so on
CAMERAS = ('wrist_camera', 'front_camera')
# rviz display class -> the message type it draws
DISPLAY_TYPES = {'rviz_default_plugins/Image': 'Image',
                 'rviz_default_plugins/Pose': 'PoseStamped',
                 'rviz_default_plugins/MarkerArray': 'MarkerArray'}
NUMERIC = {'bool', 'float32', 'float64', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32',
           'int64', 'uint64'}


def publishers():
    """topic -> {(message type, QoS profile name)} from every node's create_publisher call."""
    found = {}
    for path in SRC.glob('*/*/**/*.py'):
        if '/test/' in str(path):
            continue
        for msg_type, topic, profile in PUBLISHER.findall(path.read_text()):
            names = [re.sub(r'\{[^}]*\}', camera, topic) for camera in CAMERAS] \
                if '{' in topic else [topic]
            for name in names:
                found.setdefault(name.lstrip('/'), set()).add((msg_type, profile))
    return found


def message_fields(msg_type):
    """name -> type of a hilserl_interfaces message, from its .msg definition."""
    fields = {}
    for line in (SRC / 'hilserl_interfaces' / 'msg' / f'{msg_type}.msg').read_text().splitlines():
        line = line.split('#')[0].strip()
        if line and '=' not in line:
            field_type, name = line.split()[:2]
            fields[name] = field_type
    return fields


def rviz_displays():
    config = yaml.safe_load((CONFIG / RVIZ_CONFIG).read_text())
    return config, config['Visualization Manager']['Displays']


def perspective_values(group):
    return {k: ast.literal_eval(v['repr']) for k, v in group['keys'].items()}


def plotted_topics():
    document = json.loads((CONFIG / RQT_PERSPECTIVE).read_text())
    manager = document['groups']['pluginmanager']
    running = perspective_values(manager)['running-plugins']
    plots = []
    for serial in running['rqt_plot/Plot']:
        settings = manager['groups'][f'plugin__rqt_plot__Plot__{serial}']['groups']['plugin']
        plots.append(perspective_values(settings)['topics'])
    return document, running, plots


def test_rviz_draws_in_the_frame_of_the_poses_and_markers():
    config, _ = rviz_displays()
    assert config['Visualization Manager']['Global Options']['Fixed Frame'] == BASE_FRAME
    assert WorkspaceMarkersConfig().frame_id == BASE_FRAME


def test_every_rviz_topic_is_published_with_a_qos_rviz_can_receive():
    _, displays = rviz_displays()
    published = publishers()
    shown = {}
    for display in displays:
        if 'Topic' not in display:
            continue
        topic = display['Topic']
        assert topic['Value'].startswith(ROBOT), topic['Value']
        name = topic['Value'][len(ROBOT):]
        assert name in published, f'nobody publishes {name}'
        for msg_type, profile_name in published[name]:
            assert msg_type == DISPLAY_TYPES[display['Class']], (name, msg_type)
            profile = getattr(qos, profile_name)
            if profile.reliability == ReliabilityPolicy.BEST_EFFORT:
                assert topic['Reliability Policy'] == 'Best Effort', name
            if topic['Durability Policy'] == 'Transient Local':
                assert profile.durability == DurabilityPolicy.TRANSIENT_LOCAL, name
        shown[name] = display['Class']
    assert {'wrist_camera/image_proc', 'wrist_camera/image_raw', 'ee_pose',
            'workspace_markers'} <= set(shown)
    # the markers are latched: only a transient-local subscription gets them after start-up
    markers = next(d for d in displays if d.get('Topic', {}).get('Value', '').endswith(
        'workspace_markers'))
    assert markers['Topic']['Durability Policy'] == 'Transient Local'


def test_the_robot_model_comes_from_robot_state_publisher_in_the_robot_namespace():
    _, displays = rviz_displays()
    model = next(d for d in displays if d['Class'] == 'rviz_default_plugins/RobotModel')
    assert model['Description Source'] == 'Topic'
    # robot_state_publisher latches robot_description
    assert model['Description Topic']['Value'] == ROBOT + 'robot_description'
    assert model['Description Topic']['Durability Policy'] == 'Transient Local'


def test_every_plotted_field_exists_in_the_message_and_is_a_number():
    _, running, plots = plotted_topics()
    published = publishers()
    for path in (p for plot in plots for p in plot):
        topic, field = path.rsplit('/', 1)
        name = topic[len(ROBOT):] if topic.startswith(ROBOT) else topic.lstrip('/')
        assert name in published, f'nobody publishes {topic}'
        (msg_type, _), = published[name]
        fields = message_fields(msg_type)
        assert field in fields, f'{msg_type} has no field {field}'
        assert fields[field] in NUMERIC, f'{msg_type}.{field} is not a number'
    assert running['rqt_robot_monitor/RobotMonitor'] == [1]


def test_the_plots_cover_returns_interventions_success_losses_and_learner_speed():
    _, _, plots = plotted_topics()
    fields = {p.rsplit('/', 1)[1] for plot in plots for p in plot}
    assert {'episode_return', 'intervention_rate', 'success', 'critic_loss', 'actor_loss',
            'updates_per_s', 'effective_utd'} <= fields


def test_every_plugin_instance_has_its_settings_group():
    document, running, _ = plotted_topics()
    groups = document['groups']['pluginmanager']['groups']
    expected = {f'plugin__{plugin.replace("/", "__")}__{serial}'
                for plugin, serials in running.items() for serial in serials}
    assert set(groups) == expected


@pytest.mark.parametrize('name', [RVIZ_CONFIG, RQT_PERSPECTIVE])
def test_another_robot_namespace_moves_every_topic(name):
    moved = for_robot(str(CONFIG), name, 'arm2')
    try:
        text = Path(moved).read_text()
        assert '/so101/' not in text and '/arm2/' in text
        assert text.count('/arm2/') == (CONFIG / name).read_text().count('/so101/')
    finally:
        os.unlink(moved)
    assert for_robot(str(CONFIG), name, 'so101') == str(CONFIG / name)


def test_the_diagnostic_analyzers_match_status_names_the_drivers_publish():
    analyzers = yaml.safe_load((CONFIG / DIAGNOSTIC_ANALYZERS).read_text())
    parameters = analyzers['analyzers']['ros__parameters']
    sources = '\n'.join(p.read_text() for package in ('so101_driver', 'so101_sim')
                         for p in (SRC / package).glob('**/*node.py'))
    for analyzer in parameters.values():
        if isinstance(analyzer, dict):
            for pattern in analyzer['contains']:
                assert pattern in sources, f'no diagnostic status name contains {pattern!r}'
