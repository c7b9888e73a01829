"""docs/NODES.md is what the code generates, and the index it generates is what the nodes do:
the running simulated training graph has exactly the indexed topics (with their QoS), services
and parameters."""
import time
from pathlib import Path

import pytest
from rcl_interfaces.srv import ListParameters
from rclpy.qos import DurabilityPolicy, ReliabilityPolicy

from hilserl_bringup import node_index
from hilserl_bringup.graph import GRAPHS, cameras, namespace_of
from hilserl_bringup.runner import Graph, default_config_dir
from hilserl_common import qos
from hilserl_common.config import fields
from hilserl_testing.nodes import ProbeNode, unclean_stops
from reward_classifier.model import build_classifier, save_classifier
from so101_description.cameras import CAMERAS

ROOT = Path(__file__).resolve().parents[3]
NODES_MD = ROOT / 'docs' / 'NODES.md'
REGENERATE = 'python -m hilserl_bringup.node_index > docs/NODES.md'
# What rclpy gives every node by itself: parameter services, the type description service,
# /rosout, /parameter_events, and /clock on sim time.
AUTOMATIC_TOPICS = {'publishes': {'/rosout', '/parameter_events'},
                    'subscribes': {'/parameter_events', '/clock'}}
AUTOMATIC_SERVICES = ('/describe_parameters', '/get_parameter_types', '/get_parameters',
                      '/list_parameters', '/set_parameters', '/set_parameters_atomically',
                      '/get_type_description')
AUTOMATIC_PARAMETERS = {'use_sim_time', 'start_type_description_service'}
WAIT_S = 180.0  # a loaded 2-core machine starting eight nodes


def test_docs_nodes_md_is_what_the_code_generates():
    generated = node_index.generate()
    written = NODES_MD.read_text() if NODES_MD.exists() else ''
    assert written == generated, (
        f'docs/NODES.md differs from what the graph description, the config dataclasses and '
        f'the endpoint table generate; regenerate it: {REGENERATE}')


def all_specs():
    for graph in GRAPHS:
        for _, given in node_index.VARIANTS:
            yield from node_index.graph_specs(graph, given)


def test_every_node_of_the_graphs_and_nothing_else_is_indexed():
    executables = {(s.package, s.executable) for s in all_specs()}
    assert set(node_index.CONFIGS) == executables, 'CONFIGS: (package, executable) to fix'
    assert set(node_index.ENDPOINTS) == executables, 'ENDPOINTS: (package, executable) to fix'


def test_what_a_graph_sets_is_a_parameter_of_the_node():
    for spec in all_specs():
        declared = {f.name for c in node_index.config_classes(spec) for f in fields(c)}
        unknown = set(spec.parameters) - declared - AUTOMATIC_PARAMETERS
        assert not unknown, f'{spec.name}: the graph sets {unknown}, which no config declares'


def full_name(name: str, namespace: str) -> str:
    return name if name.startswith('/') else namespace.rstrip('/') + '/' + name


class Expected:
    """One node's endpoints as the index says, for the arguments it runs with."""

    def __init__(self, spec, args, views):
        self.spec = spec
        self.namespace = namespace_of(spec, args['robot'])
        parameters = node_index.node_parameters(spec, default_config_dir())
        graph_cameras = parameters.get('cameras') or cameras(args)
        self.endpoints, self.unknowable = {}, set()  # (kind, name) -> Endpoint
        listed = node_index.ENDPOINTS[(spec.package, spec.executable)]
        for kind in ('publishes', 'subscribes', 'serves', 'calls'):
            for e in getattr(listed, kind):
                holds = e.when.holds(parameters) if e.when else True
                for name in node_index.expand(e, spec, graph_cameras, views):
                    key = (kind, full_name(name, self.namespace))
                    if holds is None:
                        self.unknowable.add(key)
                    elif holds:
                        self.endpoints[key] = e
        self.parameters = {f.name for c in node_index.config_classes(spec) for f in fields(c)}

    def wanted(self):
        return {(kind, name, e.type) for (kind, name), e in self.endpoints.items()}


def actual_endpoints(node, name, namespace, unknowable):
    found = set()
    for kind, query in (('publishes', node.get_publisher_names_and_types_by_node),
                        ('subscribes', node.get_subscriber_names_and_types_by_node),
                        ('serves', node.get_service_names_and_types_by_node),
                        ('calls', node.get_client_names_and_types_by_node)):
        try:
            listed = query(name, namespace)
        except Exception:  # the node is not discovered yet
            continue
        for topic, types in listed:
            if topic in AUTOMATIC_TOPICS.get(kind, ()) or topic.endswith(AUTOMATIC_SERVICES) \
                    or (kind, topic) in unknowable:
                continue
            found |= {(kind, topic, t) for t in types}
    return found


def qos_mismatches(node, expected: Expected):
    wrong = []
    for (kind, topic), e in expected.endpoints.items():
        if kind not in ('publishes', 'subscribes') or not e.qos:
            continue
        infos = (node.get_publishers_info_by_topic if kind == 'publishes'
                 else node.get_subscriptions_info_by_topic)(topic)
        profile = getattr(qos, e.qos)
        for info in infos:
            if info.node_name == expected.spec.name and info.node_namespace == expected.namespace:
                got = (ReliabilityPolicy(info.qos_profile.reliability),
                       DurabilityPolicy(info.qos_profile.durability))
                if got != (profile.reliability, profile.durability):
                    wrong.append(f'{expected.spec.name} {kind} {topic}: {got}, index: {e.qos}')
    return wrong


def declared_parameters(probe, expected: Expected):
    service = full_name(f'{expected.spec.name}/list_parameters', expected.namespace)
    names = probe.call(ListParameters, service, ListParameters.Request()).result.names
    return set(names) - AUTOMATIC_PARAMETERS


@pytest.mark.graph
@pytest.mark.filterwarnings('ignore:NO PRETRAINED')
def test_the_running_sim_graph_has_the_indexed_topics_services_and_parameters(tmp_path):
    views = list(CAMERAS)
    save_classifier(build_classifier(views=views), tmp_path / 'reward_classifier',
                    threshold=0.5, metrics={})
    graph = Graph('train', {'output_dir': str(tmp_path), 'console_port': '0'}, quiet=True)
    expected = [Expected(s, graph.arguments, views) for s in graph.specs]
    assert {e.spec.name for e in expected} >= {'sim', 'operator', 'kinematics', 'actor',
                                               'reward_classifier', 'learner', 'console'}
    probe = ProbeNode('node_index_probe')
    graph.start()
    try:
        deadline = time.monotonic() + WAIT_S
        while True:
            failed = graph.failed_required()
            assert failed is None, unclean_stops([failed])
            found = {e.spec.name: actual_endpoints(probe.node, e.spec.name, e.namespace,
                                                   e.unknowable) for e in expected}
            if all(found[e.spec.name] >= e.wanted() for e in expected) \
                    or time.monotonic() > deadline:
                break
            probe.executor.spin_once(timeout_sec=0.5)
        for e in expected:
            name = e.spec.name
            assert found[name] == e.wanted(), (
                f'{name}: running but not indexed {sorted(found[name] - e.wanted())}; indexed '
                f'but not running {sorted(e.wanted() - found[name])} (node_index.ENDPOINTS)')
        wrong = [w for e in expected for w in qos_mismatches(probe.node, e)]
        assert not wrong, wrong
        probe.spin_in_background()
        for e in expected:
            assert declared_parameters(probe, e) == e.parameters, (
                f'{e.spec.name}: its parameters are not those of its config classes '
                f'(node_index.CONFIGS)')
    finally:
        probe.close()
        graph.stop()


def test_the_diagram_draws_every_node_of_the_simulated_training_graph(tmp_path):
    from hilserl_bringup import graph_diagram
    names = {s.name for s in node_index.graph_specs('train', {'sim': 'true'})}
    assert set(graph_diagram.PLACES) == names, 'graph_diagram.PLACES: a place for every node'
    edges = graph_diagram.connections()
    assert '/transitions' in edges[('actor', 'learner')]
    assert 'sim/reset_scene()' in edges[('actor', 'sim')]
    graph_diagram.draw(str(tmp_path / 'graph.png'))
    assert (tmp_path / 'graph.png').stat().st_size > 10_000
