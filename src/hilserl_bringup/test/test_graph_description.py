"""The graph description and the runner's command lines, without starting processes."""
import os

import pytest
import yaml

from hilserl_bringup.graph import GRAPHS, namespace_of, resolve_arguments
from hilserl_bringup.parameters import section_key
from hilserl_bringup.runner import Graph, GraphError, parse_launch_arguments, ros_arguments


def test_sim_graph_has_no_hardware_node_and_real_graph_has_no_sim():
    sim = {s.name for s in GRAPHS['train'](resolve_arguments('train', {}))}
    real = {s.name for s in GRAPHS['train'](resolve_arguments('train', {'sim': 'false'}))}
    assert {'sim', 'operator', 'kinematics', 'reward_classifier', 'actor', 'learner'} <= sim
    assert not sim & {'follower', 'leader', 'wrist_camera', 'front_camera'}
    assert {'follower', 'leader', 'wrist_camera', 'actor', 'learner'} <= real
    assert not real & {'sim', 'operator'}


def test_eval_graph_has_no_learner():
    names = {s.name for s in GRAPHS['eval'](resolve_arguments('eval', {}))}
    assert 'learner' not in names and 'actor' in names


def test_the_console_serves_every_graph_read_only_in_evaluation_and_can_be_left_out():
    for graph in GRAPHS:
        args = resolve_arguments(graph, {})
        specs = {s.name: s for s in GRAPHS[graph](args)}
        console = specs['console']
        assert not console.required   # a taken port must not stop the robot's graph
        assert console.parameters['read_only'] is (graph == 'eval')
        assert console.parameters['port'] == 8080
        assert console.parameters['bind_address'] == '127.0.0.1'
        off = resolve_arguments(graph, {'console': 'false'})
        assert 'console' not in {s.name for s in GRAPHS[graph](off)}


def test_the_console_and_the_recordings_have_the_front_camera_only_where_there_is_one():
    def cameras(given, graph='train'):
        specs = {s.name: s for s in GRAPHS[graph](resolve_arguments(graph, given))}
        recorded = specs['actor'].parameters['cameras']
        assert specs['console'].parameters['cameras'] == recorded
        return recorded
    assert cameras({}) == cameras({}, 'record_demos') == ['wrist_camera', 'front_camera']
    assert cameras({'sim': 'false'}, 'record_demos') == ['wrist_camera']
    assert cameras({'sim': 'false'}) == ['wrist_camera']
    assert cameras({'sim': 'false', 'front_camera': '2'}) == ['wrist_camera', 'front_camera']


def test_a_console_port_that_is_no_number_is_named():
    with pytest.raises(ValueError, match='console_port:=http'):
        GRAPHS['train'](resolve_arguments('train', {'console_port': 'http'}))


# Its markers are stamped 0 and it asks the simulation once: /clock would wake it for nothing.
WALL_CLOCK_NODES = {'workspace_markers'}


def test_faster_than_real_time_turns_on_sim_time_for_every_node_that_keeps_time():
    specs = GRAPHS['train'](resolve_arguments('train', {'real_time_factor': '4'}))
    assert all(s.parameters['use_sim_time'] is True for s in specs
               if s.name not in WALL_CLOCK_NODES)
    assert not any(s.parameters.get('use_sim_time') for s in specs if s.name in WALL_CLOCK_NODES)
    real_time = GRAPHS['eval'](resolve_arguments('eval', {}))
    assert not any(s.parameters.get('use_sim_time') for s in real_time)


def test_simulated_training_waits_for_the_learner_on_sim_time():
    specs = {s.name: s for s in GRAPHS['train'](resolve_arguments('train', {}))}
    assert specs['sim'].parameters['wait_for_learner'] is True
    assert all(s.parameters['use_sim_time'] is True for s in specs.values()
               if s.name not in WALL_CLOCK_NODES)
    free = GRAPHS['train'](resolve_arguments('train', {'wait_for_learner': 'false'}))
    assert not any(s.parameters.get('use_sim_time') for s in free)
    real = GRAPHS['train'](resolve_arguments('train', {'sim': 'false'}))
    assert not any(s.parameters.get('use_sim_time') or s.parameters.get('wait_for_learner')
                   for s in real)


@pytest.mark.parametrize('given, words', [
    ({'simulation': 'true'}, ['unknown argument', 'simulation', 'sim']),
    ({'sim': 'maybe'}, ['sim:=maybe', 'true, false']),
    ({'real_time_factor': 'fast'}, ['real_time_factor:=fast', 'not a number']),
])
def test_bad_arguments_are_named(given, words):
    with pytest.raises(ValueError) as error:
        resolve_arguments('train', given)
    for word in words:
        assert word in str(error.value)


def test_learner_is_shared_by_all_robots_and_the_rest_is_namespaced():
    specs = {s.name: s for s in GRAPHS['train'](resolve_arguments('train', {}))}
    assert namespace_of(specs['learner'], 'arm1') == '/'
    assert namespace_of(specs['sim'], 'arm1') == '/arm1'


def test_ros_arguments_are_standard(tmp_path):
    (tmp_path / 'task.yaml').write_text('{}')
    (tmp_path / 'sim.yaml').write_text('{}')
    (tmp_path / 'mine.yaml').write_text('{}')
    spec = {s.name: s for s in GRAPHS['train'](resolve_arguments('train', {}))}['sim']
    args = ros_arguments(spec, '/so101', str(tmp_path), str(tmp_path / 'mine.yaml'),
                         str(tmp_path / 'generated'))
    assert args[:5] == ['--ros-args', '-r', '__node:=sim', '-r', '__ns:=/so101']
    files = [args[i + 1] for i, a in enumerate(args) if a == '--params-file']
    generated = str(tmp_path / 'generated' / 'sim.yaml')
    assert files == [str(tmp_path / 'task.yaml'), str(tmp_path / 'sim.yaml'), generated,
                     str(tmp_path / 'mine.yaml')]
    assert '-p' not in args


def test_the_graphs_parameters_keep_their_types_in_the_generated_file(tmp_path):
    spec = {s.name: s for s in GRAPHS['train'](resolve_arguments(
        'train', {'sim': 'false', 'camera': '0', 'follower_port': '/dev/ttyACM0'}))}
    for name in ('wrist_camera', 'follower', 'learner'):
        ros_arguments(spec[name], '/so101', os.path.join(os.path.dirname(__file__), '..',
                                                         'config'), '', str(tmp_path))
        with open(tmp_path / f'{name}.yaml') as stream:
            document = yaml.safe_load(stream)
        assert document == {section_key(name): {'ros__parameters': spec[name].parameters}}
    assert spec['wrist_camera'].parameters == {'source': '0'}  # a string, not the number 0


def test_a_missing_parameter_file_is_named_before_anything_starts(tmp_path):
    spec = {s.name: s for s in GRAPHS['train'](resolve_arguments('train', {}))}['sim']
    with pytest.raises(GraphError, match=r'task\.yaml \(for node sim\) does not exist'):
        ros_arguments(spec, '/so101', str(tmp_path), '', str(tmp_path / 'generated'))


def test_unknown_nodes_and_bad_tokens_are_refused():
    with pytest.raises(GraphError, match='no node'):
        Graph('train', {}, only=['simulator'])
    with pytest.raises(GraphError, match='name:=value'):
        parse_launch_arguments(['sim=true'])


def test_hardware_arguments_left_empty_keep_the_parameter_files_values():
    real = {s.name: s for s in GRAPHS['train'](resolve_arguments('train', {'sim': 'false'}))}
    assert 'port' not in real['follower'].parameters
    assert 'calibration_file' not in real['leader'].parameters
    given = {s.name: s for s in GRAPHS['train'](resolve_arguments(
        'train', {'sim': 'false', 'follower_port': '/dev/ttyUSB3', 'camera': '2'}))}
    assert given['follower'].parameters['port'] == '/dev/ttyUSB3'
    assert given['wrist_camera'].parameters['source'] == '2'
    assert 'front_camera' not in real and 'front_camera' not in given
    with_front = {s.name: s for s in GRAPHS['train'](resolve_arguments(
        'train', {'sim': 'false', 'front_camera': '/dev/video4'}))}
    assert with_front['front_camera'].parameters['source'] == '/dev/video4'
    assert with_front['front_camera'].executable == 'camera'


@pytest.mark.parametrize('graph', sorted(GRAPHS))
@pytest.mark.parametrize('sim', ['true', 'false'])
def test_parameter_files_never_shadow_what_the_graph_sets(graph, sim):
    """A graph's own parameters rank above the node's files in config/ (hilserl_bringup.parameters):
    the same name in a node's section there would be a value that never applies."""
    config_dir = os.path.join(os.path.dirname(__file__), '..', 'config')
    for spec in GRAPHS[graph](resolve_arguments(graph, {'sim': sim})):
        for file in spec.params_files:
            with open(os.path.join(config_dir, file)) as stream:
                document = yaml.safe_load(stream) or {}
            section = document.get(f'/**/{spec.name}', {}).get('ros__parameters', {})
            shadowed = set(section) & set(spec.parameters)
            assert not shadowed, f'{file} sets {shadowed} for {spec.name}, which the graph sets'

