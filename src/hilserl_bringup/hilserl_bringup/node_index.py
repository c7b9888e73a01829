"""docs/NODES.md, generated: every node of the graphs with its package, executable, graphs, topics,
services and parameters.

    python -m hilserl_bringup.node_index > docs/NODES.md

Graphs, nodes and parameter files come from the graph description (hilserl_bringup.graph),
parameters with their defaults and descriptions from the nodes' config dataclasses (CONFIGS),
topics and services from ENDPOINTS, which test_node_index.py compares with the publishers,
subscriptions and services of the running nodes. No ROS import here.
"""
import argparse
import importlib
import os
import sys
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Callable, Dict, List, Optional, Tuple

from hilserl_bringup.graph import (
    GRAPH_ARGUMENTS,
    GRAPHS,
    NodeSpec,
    namespace_of,
    resolve_arguments,
)
from hilserl_bringup.monitoring.viewers import MONITORING_ARGUMENTS
from hilserl_common.config import default_of, fields, load_yaml_section

# (package, executable) -> the config dataclasses its node reads (hilserl_common.params
# load_config), as 'module:Class'.
CONFIGS: Dict[Tuple[str, str], Tuple[str, ...]] = {
    ('so101_sim', 'sim'): ('so101_sim.config:CellConfig',
                              'so101_sim.config:SimNodeConfig'),
    ('so101_sim', 'operator'): ('so101_sim.operator:OperatorConfig',
                                       'so101_sim.scripted_grasp:GraspScriptConfig',
                                       'so101_kinematics.kinematics:KinematicsConfig'),
    ('so101_driver', 'follower'): ('so101_driver.follower.config:FollowerConfig',),
    ('so101_driver', 'leader'): ('so101_driver.leader.config:LeaderConfig',),
    ('so101_driver', 'camera'): ('so101_driver.camera.config:CameraConfig',),
    ('so101_kinematics', 'kinematics'): ('so101_kinematics.kinematics:KinematicsConfig',),
    ('reward_classifier', 'reward_classifier'): ('reward_classifier.config:ServingConfig',),
    ('hilserl_actor', 'actor'): ('hilserl_actor.config:ActorConfig',
                                 'so101_kinematics.kinematics:KinematicsConfig',
                                 'so101_kinematics.reset:ResetConfig',
                                 'hilserl_actor.reward_gate:RewardGateConfig'),
    ('hilserl_learner', 'learner'): ('hilserl_learner.config:LearnerConfig',),
    ('hilserl_bringup', 'workspace_markers'): (
        'hilserl_bringup.monitoring.workspace_markers:WorkspaceMarkersConfig',),
    ('hilserl_console', 'console'): ('hilserl_console.config:ConsoleConfig',),
}


@dataclass(frozen=True)
class Condition:
    """When an endpoint exists, as a user reads it and as a test of the node's parameters
    (None: the parameters cannot tell, e.g. whether a page is open)."""
    text: str
    holds: Callable[[Dict[str, object]], Optional[bool]]


ON_SIM_TIME = Condition('on sim time', lambda p: p['real_time_factor'] != 1.0
                        or p['wait_for_learner'])
SPEED_SWITCH = Condition('on sim time and evaluation_real_time_factor > 0',
                         lambda p: ON_SIM_TIME.holds(p) and p['evaluation_real_time_factor'] > 0)
WAITS = Condition('wait_for_learner', lambda p: p['wait_for_learner'])
HOLDS = Condition('on sim time and hold_for_commands',
                  lambda p: ON_SIM_TIME.holds(p) and p['hold_for_commands'])
CLASSIFIER_REWARD = Condition('reward_source classifier',
                              lambda p: p['reward_source'] == 'classifier')
SIM_STATE = Condition('sim, or reward_source sim',
                      lambda p: p['sim'] or p['reward_source'] == 'sim')
RECORDING = Condition('mode record', lambda p: p['mode'] == 'record')
JOURNAL_IN_SIM = Condition('sim and journal_dir', lambda p: p['sim'] and bool(p['journal_dir']))
PAGE_OPEN = Condition('while a page is open', lambda p: None)


@dataclass(frozen=True)
class Endpoint:
    """A topic or service of a node. Names without a leading / are in the robot's namespace;
    {camera}: each camera of the node's `cameras` (else of the graph), {view}: each view of the
    classifier's model, {node}: the node's own name, {recorded}: every topic of an episode
    bag."""
    name: str
    type: str                  # as ROS names it: sensor_msgs/msg/JointState
    qos: str = ''              # a profile of hilserl_common.qos; '' for services
    when: Optional[Condition] = None


@dataclass(frozen=True)
class Endpoints:
    publishes: Tuple[Endpoint, ...] = ()
    subscribes: Tuple[Endpoint, ...] = ()
    serves: Tuple[Endpoint, ...] = ()
    calls: Tuple[Endpoint, ...] = ()


JOINT_STATE = 'sensor_msgs/msg/JointState'
IMAGE = 'sensor_msgs/msg/Image'
DIAGNOSTICS = Endpoint('/diagnostics', 'diagnostic_msgs/msg/DiagnosticArray', 'COMMANDS')
# What the leader arm gives the graph; the simulated operator stands in for it with the same.
LEADER_PUBLISHES = (Endpoint('leader/joint_states', JOINT_STATE, 'SENSOR_RELIABLE'),
                    Endpoint('intervention', 'std_msgs/msg/Bool', 'COMMANDS'),
                    Endpoint('operator_event', 'std_msgs/msg/String', 'COMMANDS'),
                    DIAGNOSTICS)


def _interface(name: str) -> str:
    return f'hilserl_interfaces/{name}'


def _camera_streams(camera: str) -> Tuple[Endpoint, ...]:
    return (Endpoint(f'{camera}/image_raw', IMAGE, 'SENSOR'),
            Endpoint(f'{camera}/image_proc', IMAGE, 'SENSOR'),
            Endpoint(f'{camera}/camera_info', 'sensor_msgs/msg/CameraInfo', 'SENSOR'))


# A real camera's full frame in JPEG (an MJPG camera's own bytes): what demonstrations keep.
CAMERA_JPEG = Endpoint('{node}/image_raw/compressed', 'sensor_msgs/msg/CompressedImage', 'SENSOR')


ENDPOINTS: Dict[Tuple[str, str], Endpoints] = {
    ('so101_sim', 'sim'): Endpoints(
        publishes=(Endpoint('joint_states', JOINT_STATE, 'SENSOR_RELIABLE'),
                   *_camera_streams('{camera}'),
                   Endpoint('sim/grasp_state', _interface('msg/GraspState'), 'SENSOR_RELIABLE'),
                   Endpoint('/clock', 'rosgraph_msgs/msg/Clock', 'CLOCK', ON_SIM_TIME),
                   DIAGNOSTICS),
        subscribes=(Endpoint('joint_commands', JOINT_STATE, 'COMMANDS'),
                    Endpoint('actor_status', _interface('msg/ActorStatus'), 'COMMANDS',
                             SPEED_SWITCH),
                    Endpoint('/learner_progress', _interface('msg/LearnerProgress'), 'COMMANDS',
                             WAITS),
                    Endpoint('episode_start', 'std_msgs/msg/UInt32', 'COMMANDS', HOLDS),
                    Endpoint('episode_stats', _interface('msg/EpisodeStats'), 'COMMANDS',
                             HOLDS)),
        serves=(Endpoint('sim/reset_scene', _interface('srv/ResetScene')),
                Endpoint('stop', 'std_srvs/srv/Trigger'),
                Endpoint('torque_enable', 'std_srvs/srv/SetBool'))),
    ('so101_sim', 'operator'): Endpoints(
        publishes=LEADER_PUBLISHES,
        subscribes=(Endpoint('joint_states', JOINT_STATE, 'SENSOR_RELIABLE'),
                    Endpoint('sim/grasp_state', _interface('msg/GraspState'), 'SENSOR_RELIABLE'),
                    Endpoint('episode_start', 'std_msgs/msg/UInt32', 'COMMANDS'),
                    Endpoint('episode_stats', _interface('msg/EpisodeStats'), 'COMMANDS'),
                    Endpoint('intervention_toggle', 'std_msgs/msg/Empty', 'COMMANDS'))),
    ('so101_driver', 'follower'): Endpoints(
        publishes=(Endpoint('joint_states', JOINT_STATE, 'SENSOR_RELIABLE'), DIAGNOSTICS),
        subscribes=(Endpoint('joint_commands', JOINT_STATE, 'COMMANDS'),),
        serves=(Endpoint('stop', 'std_srvs/srv/Trigger'),
                Endpoint('torque_enable', 'std_srvs/srv/SetBool'))),
    ('so101_driver', 'leader'): Endpoints(
        publishes=LEADER_PUBLISHES,
        subscribes=(Endpoint('joint_states', JOINT_STATE, 'SENSOR_RELIABLE'),
                    Endpoint('intervention_toggle', 'std_msgs/msg/Empty', 'COMMANDS'))),
    ('so101_driver', 'camera'): Endpoints(
        publishes=(*_camera_streams('{node}'), CAMERA_JPEG, DIAGNOSTICS)),
    ('so101_kinematics', 'kinematics'): Endpoints(
        publishes=(Endpoint('ee_pose', 'geometry_msgs/msg/PoseStamped', 'SENSOR_RELIABLE'),),
        subscribes=(Endpoint('joint_states', JOINT_STATE, 'SENSOR_RELIABLE'),),
        serves=(Endpoint('compute_ik', _interface('srv/ComputeIK')),
                Endpoint('compute_fk', _interface('srv/ComputeFK')))),
    ('reward_classifier', 'reward_classifier'): Endpoints(
        publishes=(Endpoint('reward', _interface('msg/RewardPrediction'), 'COMMANDS'),),
        subscribes=(Endpoint('{view}/image_proc', IMAGE, 'SENSOR'),
                    Endpoint('sim/grasp_state', _interface('msg/GraspState'), 'SENSOR_RELIABLE',
                             JOURNAL_IN_SIM))),
    ('hilserl_actor', 'actor'): Endpoints(
        publishes=(Endpoint('joint_commands', JOINT_STATE, 'COMMANDS'),
                   Endpoint('/transitions', _interface('msg/Transition'), 'TRANSITIONS'),
                   Endpoint('episode_stats', _interface('msg/EpisodeStats'), 'COMMANDS'),
                   Endpoint('actor_status', _interface('msg/ActorStatus'), 'COMMANDS'),
                   Endpoint('episode_start', 'std_msgs/msg/UInt32', 'COMMANDS')),
        subscribes=(Endpoint('joint_states', JOINT_STATE, 'SENSOR_RELIABLE'),
                    Endpoint('wrist_camera/image_proc', IMAGE, 'SENSOR'),
                    Endpoint('leader/joint_states', JOINT_STATE, 'SENSOR_RELIABLE'),
                    Endpoint('intervention', 'std_msgs/msg/Bool', 'COMMANDS'),
                    Endpoint('reward', _interface('msg/RewardPrediction'), 'COMMANDS',
                             CLASSIFIER_REWARD),
                    Endpoint('sim/grasp_state', _interface('msg/GraspState'), 'SENSOR_RELIABLE',
                             SIM_STATE),
                    Endpoint('/policy_weights', _interface('msg/PolicyWeights'), 'LATCHED'),
                    Endpoint('/learner_stats', _interface('msg/LearnerStats'), 'COMMANDS'),
                    Endpoint('operator_event', 'std_msgs/msg/String', 'COMMANDS'),
                    Endpoint('{recorded}', '', '', RECORDING)),
        calls=(Endpoint('sim/reset_scene', _interface('srv/ResetScene')),)),
    ('hilserl_learner', 'learner'): Endpoints(
        publishes=(Endpoint('/policy_weights', _interface('msg/PolicyWeights'), 'LATCHED'),
                   Endpoint('/learner_stats', _interface('msg/LearnerStats'), 'COMMANDS'),
                   Endpoint('/learner_progress', _interface('msg/LearnerProgress'), 'COMMANDS'),
                   DIAGNOSTICS),
        subscribes=(Endpoint('/transitions', _interface('msg/Transition'), 'TRANSITIONS'),)),
    ('hilserl_bringup', 'workspace_markers'): Endpoints(
        publishes=(Endpoint('workspace_markers', 'visualization_msgs/msg/MarkerArray',
                            'LATCHED'),)),
    ('hilserl_console', 'console'): Endpoints(
        publishes=(Endpoint('operator_event', 'std_msgs/msg/String', 'COMMANDS'),
                   Endpoint('intervention_toggle', 'std_msgs/msg/Empty', 'COMMANDS')),
        subscribes=(Endpoint('actor_status', _interface('msg/ActorStatus'), 'COMMANDS'),
                    Endpoint('reward', _interface('msg/RewardPrediction'), 'COMMANDS'),
                    Endpoint('intervention', 'std_msgs/msg/Bool', 'COMMANDS'),
                    Endpoint('episode_stats', _interface('msg/EpisodeStats'), 'COMMANDS'),
                    Endpoint('/learner_stats', _interface('msg/LearnerStats'), 'COMMANDS'),
                    DIAGNOSTICS,
                    Endpoint('{camera}/image_proc', IMAGE, 'SENSOR', PAGE_OPEN)),
        calls=(Endpoint('stop', 'std_srvs/srv/Trigger'),
               Endpoint('torque_enable', 'std_srvs/srv/SetBool'))),
}

# The graphs as the index shows them: simulated, real, real with a front camera.
VARIANTS = (('sim:=true', {'sim': 'true'}), ('sim:=false', {'sim': 'false'}),
            ('sim:=false front_camera:=SOURCE', {'sim': 'false', 'front_camera': 'SOURCE'}))
# Paths the graph derives from output_dir, shown relative to it.
OUTPUT_DIR = '<output_dir>'


# --- reading the code ------------------------------------------------------------------------

def config_classes(spec: NodeSpec) -> List[type]:
    classes = []
    for path in CONFIGS[(spec.package, spec.executable)]:
        module, _, name = path.partition(':')
        classes.append(getattr(importlib.import_module(module), name))
    return classes


def node_parameters(spec: NodeSpec, config_dir: str) -> Dict[str, object]:
    """What the node runs with, user overrides aside: the defaults, its files in config/, then
    what the graph sets (hilserl_bringup.parameters)."""
    values = {f.name: default_of(f) for c in config_classes(spec) for f in fields(c)}
    for name in spec.params_files:
        values.update(load_yaml_section(os.path.join(config_dir, name), spec.name))
    values.update(spec.parameters)
    return values


def graph_specs(graph: str, given: Dict[str, str]) -> List[NodeSpec]:
    return GRAPHS[graph](resolve_arguments(graph, {'output_dir': OUTPUT_DIR, **given}))


def expand(endpoint: Endpoint, spec: NodeSpec, cameras: List[str],
           views: List[str]) -> List[str]:
    """The endpoint's names for one node of a graph (placeholders filled)."""
    if '{camera}' in endpoint.name:
        return [endpoint.name.format(camera=c) for c in cameras]
    if '{view}' in endpoint.name:
        return [endpoint.name.format(view=v) for v in views]
    return [endpoint.name.replace('{node}', spec.name)]


def module_of(executable: str, package: str) -> str:
    for entry in entry_points(group='console_scripts'):
        if entry.name == executable and entry.dist is not None and entry.dist.name == package:
            return entry.value
    return '?'


# --- writing ---------------------------------------------------------------------------------

def text(value) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (list, tuple)):
        return '[' + ', '.join(text(v) for v in value) + ']'
    if value == '':
        return "''"
    return str(value)


def cell(value) -> str:
    return str(value).replace('|', '\\|').replace('\n', ' ')


def table(header: Tuple[str, ...], rows) -> List[str]:
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    return lines + ['| ' + ' | '.join(cell(v) for v in row) + ' |' for row in rows]


class Index:
    """Every node of every graph, in every variant, read once."""

    def __init__(self, config_dir: str):
        self.config_dir = config_dir
        self.appearances: Dict[str, List[Tuple[str, str, NodeSpec]]] = {}
        for graph in GRAPHS:
            for label, given in VARIANTS:
                for spec in graph_specs(graph, given):
                    self.appearances.setdefault(spec.name, []).append((graph, label, spec))
        self.executables: Dict[Tuple[str, str], List[str]] = {}
        for name, seen in self.appearances.items():
            spec = seen[0][2]
            self.executables.setdefault((spec.package, spec.executable), []).append(name)

    def graphs_of(self, name: str) -> str:
        seen = self.appearances[name]
        graphs = list(dict.fromkeys(graph for graph, _, _ in seen))
        labels = {label for _, label, _ in seen}
        qualifier = ('' if len(labels) == len(VARIANTS) else
                     ' with sim:=true' if labels == {'sim:=true'} else
                     ' with sim:=false' if labels == {v[0] for v in VARIANTS[1:]} else
                     ' with ' + ' or '.join(sorted(labels)))
        return ', '.join(graphs) + qualifier

    def render(self) -> str:
        lines = [
            '# Nodes',
            '',
            '<!-- Generated by `python -m hilserl_bringup.node_index > docs/NODES.md` from the '
            'graph description (hilserl_bringup/graph.py), the nodes\' config dataclasses and '
            'the endpoint table of hilserl_bringup/node_index.py; edit those, not this file. -->',
            '',
            'Every node of the graphs that `run_graph GRAPH` and `ros2 launch hilserl_bringup '
            'GRAPH.launch.py` start. Names without a leading `/` are in the robot\'s namespace '
            '(`/so101`, or `robot:=`). `{camera}`: each camera of the graph (`wrist_camera`; '
            '`front_camera` in simulation or with `front_camera:=`). QoS profiles are those of '
            '`hilserl_common.qos`. Every node also has `use_sim_time` (set by the graph) and, '
            'on sim time, subscribes to `/clock`. A parameter\'s value is its default unless '
            'a file of `config/` sets it (named, with the value where it differs) or the graph '
            'does (`graph:`, with the default launch arguments); your `config_file:=` has the '
            'last word (docs/CONVENTIONS.md, "Configuration").',
            '']
        lines += self.render_graphs() + self.render_topics()
        for key, names in self.executables.items():
            lines += self.render_node(key, names)
        return '\n'.join(lines) + '\n'

    def render_graphs(self) -> List[str]:
        rows = []
        for graph in GRAPHS:
            row = [f'`{graph}`']
            for _, given in VARIANTS[:2]:
                names = [s.name for s in graph_specs(graph, given)]
                row.append(', '.join(names))
            rows.append(row)
        lines = ['## Graphs', ''] + table(('graph', 'nodes with sim:=true',
                                           'nodes with sim:=false (front_camera with '
                                           'front_camera:=)'), rows)
        arguments = {}
        for graph, declared in GRAPH_ARGUMENTS.items():
            for argument in declared:
                arguments.setdefault(argument, []).append(graph)
        rows = [(f'`{a.name}`', text(a.default) if a.default else "''",
                 ', '.join(graphs) if len(graphs) < len(GRAPHS) else 'all', a.description)
                for a, graphs in arguments.items()]
        rows += [(f'`{a.name}`', a.default, 'all (ros2 launch only)', a.description)
                 for a in MONITORING_ARGUMENTS]
        return lines + ['', '### Arguments (`name:=value`)', ''] + table(
            ('argument', 'default', 'graphs', 'description'), rows) + ['']

    def render_topics(self) -> List[str]:
        """Who publishes and who subscribes each topic, who serves and who calls each service,
        over every graph."""
        topics: Dict[Tuple[str, str, str], Tuple[List[str], List[str]]] = {}
        services: Dict[Tuple[str, str], Tuple[List[str], List[str]]] = {}
        for (package, executable), names in self.executables.items():
            endpoints = ENDPOINTS[(package, executable)]
            for side, kinds in ((0, endpoints.publishes), (1, endpoints.subscribes)):
                for e in kinds:
                    if e.name != '{recorded}':  # a camera node's name and a view are cameras
                        name = e.name.replace('{node}', '{camera}').replace('{view}', '{camera}')
                        topics.setdefault((name, e.type, e.qos), ([], []))[side].extend(names)
            for side, kinds in ((0, endpoints.serves), (1, endpoints.calls)):
                for e in kinds:
                    services.setdefault((e.name, e.type), ([], []))[side].extend(names)
        rows = [(f'`{name}`', kind, qos, ', '.join(dict.fromkeys(out)),
                 ', '.join(dict.fromkeys(into)))
                for (name, kind, qos), (out, into) in sorted(topics.items())]
        lines = ['## Topics', ''] + table(('topic', 'type', 'QoS', 'published by',
                                           'subscribed by'), rows)
        rows = [(f'`{name}`', kind, ', '.join(out), ', '.join(into))
                for (name, kind), (out, into) in sorted(services.items())]
        return lines + ['', '## Services', ''] + table(
            ('service', 'type', 'served by', 'called by'), rows) + ['']

    def render_node(self, key: Tuple[str, str], names: List[str]) -> List[str]:
        package, executable = key
        specs = {name: self.appearances[name][0][2] for name in names}
        first = specs[names[0]]
        classes = config_classes(first)
        lines = [f'## {", ".join(names)}', '',
                 f'Package `{package}`, executable `{executable}` '
                 f'(`{module_of(executable, package)}`); namespace '
                 f'`{namespace_of(first, "so101")}`. '
                 + ' '.join(f'Node `{n}`: {self.graphs_of(n)}.' for n in names)
                 + ' Parameter files: ' + ', '.join(f'config/{f}' for f in first.params_files)
                 + '; config: ' + ', '.join(f'`{c.__name__}`' for c in classes) + '.', '']
        lines += self.render_endpoints(ENDPOINTS[key]) + ['']
        lines += table(('parameter', 'default', 'config/ or graph', 'description'),
                       self.parameter_rows(classes, names)) + ['']
        return lines

    def render_endpoints(self, endpoints: Endpoints) -> List[str]:
        rows = []
        for kind, listed in (('publishes', endpoints.publishes),
                             ('subscribes', endpoints.subscribes),
                             ('serves', endpoints.serves), ('calls', endpoints.calls)):
            for e in listed:
                name = ('every topic of an episode bag (docs/CONVENTIONS.md, "Episode bags")'
                        if e.name == '{recorded}' else f'`{e.name}`')
                rows.append((kind, name, e.type, e.qos, e.when.text if e.when else ''))
        return table(('', 'name', 'type', 'QoS', 'when'), rows)

    def parameter_rows(self, classes: List[type], names: List[str]):
        seen = set()
        for config_class in classes:
            for f in fields(config_class):
                if f.name in seen:
                    continue
                seen.add(f.name)
                default = default_of(f)
                yield (f'`{f.name}`', text(default), self.configured(f.name, default, names),
                       f.metadata.get('description', ''))

    def configured(self, parameter: str, default, names: List[str]) -> str:
        """What the graph sets, else the file of config/ that sets it, with its value where
        that is not the default (per node where they differ)."""
        graph_values = []
        for name in names:
            for _, _, spec in self.appearances[name]:
                if parameter in spec.parameters:
                    graph_values.append(text(spec.parameters[parameter]))
        if graph_values:
            return 'graph: ' + ' or '.join(dict.fromkeys(graph_values))
        files = {}
        for name in names:
            spec = self.appearances[name][0][2]
            for file in spec.params_files:
                section = load_yaml_section(os.path.join(self.config_dir, file), name)
                if parameter in section:
                    value = section[parameter]
                    files[name] = (file if value == default or text(value) == text(default)
                                   else f'{text(value)} ({file})')
        if len(set(files.values())) > 1:
            return '; '.join(f'{name}: {value}' for name, value in files.items())
        return next(iter(files.values()), '')


def generate(config_dir: str = '') -> str:
    if not config_dir:
        from hilserl_bringup.runner import default_config_dir
        config_dir = default_config_dir()
    return Index(config_dir).render()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config-dir', default='', help='default: the installed config/')
    args = parser.parse_args(argv)
    sys.stdout.write(generate(args.config_dir))
    return 0


if __name__ == '__main__':
    sys.exit(main())

