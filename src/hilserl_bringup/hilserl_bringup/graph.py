"""The node graphs of the workspace, described once.

The launch files (launch/*.launch.py, for `ros2 launch`) and the runner (for machines without ROS)
both build their processes from these descriptions, so the two can never disagree on which nodes
run, with which parameter files, parameters and remappings. No ROS import here.
"""
import os
from dataclasses import dataclass, field, replace
from typing import Callable, Dict, List, Tuple

from hilserl_common.run_layout import DEFAULT_ROBOT, REWARD_JOURNAL
from so101_description.cameras import FRONT_CAMERA, WRIST_CAMERA


@dataclass(frozen=True)
class Argument:
    """A launch argument: `name:=value` on the command line of both ros2 launch and the runner."""
    name: str
    default: str
    description: str
    choices: Tuple[str, ...] = ()


@dataclass(frozen=True)
class NodeSpec:
    """One node process of a graph."""
    package: str
    executable: str
    name: str
    params_files: Tuple[str, ...]          # file names in the config directory, applied in order
    # applied after params_files and before the user's config_file (hilserl_bringup.parameters)
    parameters: Dict[str, object] = field(default_factory=dict)
    remappings: Tuple[Tuple[str, str], ...] = ()
    required: bool = True                  # the graph stops when a required node exits


# On sim time, how long the actor's step may wait for the frame of its tick, and for the
# classifier's verdict on it (s of wall time; sim time holds at the tick meanwhile, for up to the
# sim's command_wait_s). The verdict takes 20-40 ms here, several times that while the
# classifier warms up on a loaded machine.
SIM_FRAME_WAIT_S = 0.02
SIM_REWARD_WAIT_S = 0.5

COMMON_ARGUMENTS = (
    Argument('sim', 'true', 'Run on the MuJoCo simulation (true) or on the real SO-101 (false).',
             ('true', 'false')),
    Argument('robot', DEFAULT_ROBOT, 'Namespace of this robot\'s topics (one per robot; several '
             'actors can feed one learner).'),
    Argument('config_dir', '', 'Directory of the parameter files; empty: the installed config/.'),
    Argument('config_file', '', 'An extra parameter file applied to every node after the defaults '
             '(your overrides).'),
    Argument('output_dir', 'runs/latest', 'Where checkpoints, logs, statistics and plots go.'),
    # Real arm only; empty: the value in follower.yaml / leader.yaml / camera.yaml.
    Argument('follower_port', '', 'Serial port of the follower arm, e.g. /dev/ttyACM0.'),
    Argument('leader_port', '', 'Serial port of the leader arm, e.g. /dev/ttyACM1.'),
    Argument('follower_calibration', '', 'LeRobot calibration JSON of the follower.'),
    Argument('leader_calibration', '', 'LeRobot calibration JSON of the leader.'),
    Argument('camera', '0', 'Wrist camera: device index, path or URL.'),
    Argument('front_camera', '', 'Front camera (fixed, in front of the workspace; the reward '
             'classifier\'s view of how high the cube is): device index, path or URL; empty: '
             'none.'),
    Argument('key_device', '', 'Keyboard or foot pedal (/dev/input/by-id/...-event-kbd) for the '
             'operator keys: intervention toggle, success, failure, re-record (real arm only; '
             'empty: leader.yaml\'s key_device).'),
    Argument('real_time_factor', '1.0', 'Simulation speed: 1.0 is real time, larger runs faster '
             'and publishes /clock (every node then uses sim time); 0 is as fast as possible.'),
    Argument('clock', '/clock', 'Simulation only: the topic of this arm\'s simulated clock (when '
             'the simulation is off real time). A second simulated arm feeding the same learner '
             'needs one of its own, e.g. /so101_b/clock.'),
    Argument('console', 'true', 'Serve the operator console, a web page with the cameras, '
             'reward, episodes, learner and diagnostics, and the operator buttons.',
             ('true', 'false')),
    Argument('console_port', '8080', 'TCP port of the console (0: any free port; its log says '
             'which).'),
    Argument('console_address', '127.0.0.1', 'Address the console is served on; any other than '
             'localhost makes every command need the token it prints at start.'),
)


def flag(value: str) -> bool:
    return str(value).strip().lower() in ('true', '1', 'yes')


def _waits_for_learner(args: Dict[str, str]) -> bool:
    return flag(args['sim']) and flag(args.get('wait_for_learner', 'false'))


def uses_sim_time(args: Dict[str, str]) -> bool:
    return flag(args['sim']) and (float(args['real_time_factor']) != 1.0
                                   or _waits_for_learner(args))


def _common(args: Dict[str, str]) -> Dict[str, object]:
    return {'use_sim_time': uses_sim_time(args)}


def _robot_nodes(args: Dict[str, str], operator_mode: str = 'corrections') -> List[NodeSpec]:
    """The arm, its camera and the operator: simulated or real. The simulated operator makes
    short corrections while the policy trains, demonstrates whole grasps for recordings, and
    stays off during evaluation."""
    common = _common(args)
    if flag(args['sim']):
        return [
            NodeSpec('so101_sim', 'sim', 'sim', ('task.yaml', 'sim.yaml'),
                     {**common, 'real_time_factor': float(args['real_time_factor']),
                      'wait_for_learner': _waits_for_learner(args)}),
            NodeSpec('so101_sim', 'operator', 'operator', ('task.yaml', 'sim.yaml'),
                     {**common, 'mode': operator_mode}),
        ]
    return [
        NodeSpec('so101_driver', 'follower', 'follower', ('task.yaml', 'follower.yaml'),
                 _given(args, port='follower_port', calibration_file='follower_calibration')),
        NodeSpec('so101_driver', 'leader', 'leader', ('task.yaml', 'leader.yaml'),
                 _given(args, port='leader_port', calibration_file='leader_calibration',
                        key_device='key_device')),
        NodeSpec('so101_driver', 'camera', 'wrist_camera', ('camera.yaml',),
                 {'source': args['camera']}),
    ] + ([NodeSpec('so101_driver', 'camera', 'front_camera', ('camera.yaml',),
                   {'source': args['front_camera']})] if args['front_camera'] else [])


def cameras(args: Dict[str, str]) -> List[str]:
    """The cameras of the graph: the wrist camera, and the front camera in simulation or when
    `front_camera:=` names one. The actor records them all, the console shows them."""
    return [WRIST_CAMERA] + ([FRONT_CAMERA] if flag(args['sim']) or args['front_camera']
                             else [])


def _given(args: Dict[str, str], **parameters: str) -> Dict[str, str]:
    """Hardware parameters from launch arguments that were given; an empty argument leaves the
    value of the node's parameter file (follower.yaml, leader.yaml, camera.yaml)."""
    return {name: args[argument] for name, argument in parameters.items() if args[argument]}


def _kinematics(args) -> NodeSpec:
    return NodeSpec('so101_kinematics', 'kinematics', 'kinematics',
                    ('task.yaml', 'kinematics.yaml'), _common(args))


def _reward_classifier(args, journal: bool = False) -> NodeSpec:
    """While training it journals what it scores (for hard-negative mining), in simulation
    with the simulation's verdict beside each frame."""
    parameters = {**_common(args),
                  'model_path': os.path.join(args['output_dir'], 'reward_classifier')}
    if journal:
        parameters.update(journal_dir=os.path.join(args['output_dir'], REWARD_JOURNAL),
                          sim=flag(args['sim']))
    return NodeSpec('reward_classifier', 'reward_classifier', 'reward_classifier',
                    ('task.yaml', 'reward_classifier.yaml'), parameters)


def _actor(args, mode: str) -> NodeSpec:
    parameters = {**_common(args), 'output_dir': args['output_dir'], 'mode': mode,
                  'sim': flag(args['sim']), 'cameras': cameras(args)}
    if mode == 'record' and flag(args['sim']):
        parameters['reward_source'] = 'sim'  # demonstrations are labelled by the simulation
    if uses_sim_time(args):
        # The simulation renders a frame on each control tick of its clock and holds there
        # until the step commands: the step waits for the frame when it arrives after the clock
        # that woke it, as it may on a loaded machine, and for the classifier's verdict on it,
        # so that the reward is the state's the step reached rather than a frame's of up to a
        # tick before, at a phase left to chance.
        parameters.update(frame_wait_s=SIM_FRAME_WAIT_S, reward_wait_s=SIM_REWARD_WAIT_S)
    return NodeSpec('hilserl_actor', 'actor', 'actor', ('task.yaml', 'actor.yaml'), parameters)


def _learner(args) -> NodeSpec:
    # The learner serves every robot, so it lives outside the robot namespace (see namespace_of).
    return NodeSpec('hilserl_learner', 'learner', 'learner', ('task.yaml', 'learner.yaml'),
                    {**_common(args), 'run_dir': os.path.join(args['output_dir'], 'learner')})


def _workspace_markers(args) -> NodeSpec:
    # For rviz2 (monitoring only: the graph goes on without it). In simulation it also draws the
    # cube region, asked from the sim node's own parameters. On the wall clock even in a graph on
    # sim time: its markers are stamped 0 (the latest transform), and each /clock message would
    # wake it for nothing.
    return NodeSpec('hilserl_bringup', 'workspace_markers', 'workspace_markers', ('task.yaml',),
                    {'cube_region_node': 'sim' if flag(args['sim']) else ''}, required=False)


def _console(args, read_only: bool = False) -> List[NodeSpec]:
    """The operator's page (monitoring and buttons: the graph goes on without it, e.g. when
    its port is taken). The front camera is shown where there is one."""
    if not flag(args['console']):
        return []
    try:
        port = int(args['console_port'])
    except ValueError:
        raise ValueError(f'argument console_port:={args["console_port"]} is not a port '
                         f'number') from None
    return [NodeSpec('hilserl_console', 'console', 'console', ('console.yaml',),
                     {**_common(args), 'port': port, 'bind_address': args['console_address'],
                      'read_only': read_only, 'cameras': cameras(args),
                      'output_dir': args['output_dir']}, required=False)]


def _on_clock(args: Dict[str, str], specs: List[NodeSpec]) -> List[NodeSpec]:
    """Every node of the graph on the arm's own clock topic, when `clock:=` names one: two
    simulations publishing one /clock would drag each other's time back and forth."""
    if args['clock'] == '/clock':
        return specs
    return [replace(s, remappings=s.remappings + (('/clock', args['clock']),)) for s in specs]


def train_graph(args: Dict[str, str]) -> List[NodeSpec]:
    """HIL-SERL training: robot, kinematics, reward classifier, actor and learner."""
    return _on_clock(args, _robot_nodes(args) + [
        _kinematics(args), _reward_classifier(args, journal=True), _actor(args, 'train'),
        _learner(args), _workspace_markers(args)] + _console(args))


def eval_graph(args: Dict[str, str]) -> List[NodeSpec]:
    """Deterministic evaluation of a trained policy: no learner, no transitions; the console
    only shows (and stops the arm)."""
    return _on_clock(args, _robot_nodes(args, 'off') + [
        _kinematics(args), _reward_classifier(args), _actor(args, 'eval'),
        _workspace_markers(args)] + _console(args, read_only=True))


def record_demos_graph(args: Dict[str, str]) -> List[NodeSpec]:
    """Demonstrations: the follower mirrors the leader while the topics are recorded."""
    return _on_clock(args, _robot_nodes(args, 'demo') + [
        _kinematics(args), _actor(args, 'record'), _workspace_markers(args)] + _console(args))


GRAPHS: Dict[str, Callable[[Dict[str, str]], List[NodeSpec]]] = {
    'train': train_graph,
    'eval': eval_graph,
    'record_demos': record_demos_graph,
}

TRAIN_ARGUMENTS = (
    Argument('wait_for_learner', 'true', 'Simulation only: sim time stands still while the '
             'learner falls short of its utd_ratio critic updates per env step, so that '
             'rate holds whatever the CPU gives (every node then uses sim time).',
             ('true', 'false')),
)

GRAPH_ARGUMENTS: Dict[str, Tuple[Argument, ...]] = {
    'train': COMMON_ARGUMENTS + TRAIN_ARGUMENTS,
    'eval': COMMON_ARGUMENTS,
    'record_demos': COMMON_ARGUMENTS,
}

GLOBAL_NODES = {'learner'}


def robot_side(graph: str, arguments: Dict[str, str]) -> List[str]:
    """The nodes of a graph that one robot needs of its own (all but the learner), for another
    arm feeding a learner that runs elsewhere (`run_graph ... --only`)."""
    specs = GRAPHS[graph](resolve_arguments(graph, arguments))
    return [s.name for s in specs if s.name not in GLOBAL_NODES]


def namespace_of(spec: NodeSpec, robot: str) -> str:
    return '/' if spec.name in GLOBAL_NODES else '/' + robot.strip('/')


def resolve_arguments(graph: str, given: Dict[str, str]) -> Dict[str, str]:
    """Defaults filled in; an unknown argument or a value outside the choices is an error."""
    declared = {a.name: a for a in GRAPH_ARGUMENTS[graph]}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise ValueError(f'unknown argument(s) {", ".join(unknown)} for the {graph} graph; '
                         f'known: {", ".join(sorted(declared))}')
    values = {name: given.get(name, a.default) for name, a in declared.items()}
    for name, a in declared.items():
        if a.choices and values[name].lower() not in a.choices:
            raise ValueError(f'argument {name}:={values[name]} is not allowed; '
                             f'expected one of {", ".join(a.choices)}')
    try:
        float(values['real_time_factor'])
    except ValueError:
        raise ValueError(f'argument real_time_factor:={values["real_time_factor"]} is not a '
                         f'number') from None
    if not values['clock'].startswith('/') or values['clock'].rstrip('/') != values['clock']:
        raise ValueError(f'argument clock:={values["clock"]} is not an absolute topic name '
                         f'(e.g. /so101_b/clock)')
    return values
