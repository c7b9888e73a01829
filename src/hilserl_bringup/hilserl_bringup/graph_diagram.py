"""The node graph as a picture (docs/graph.png): the simulated training graph with its default
arguments, one arrow per pair of nodes labelled with the topics and the service calls that go
that way. Drawn from the same description as docs/NODES.md.

    python -m hilserl_bringup.graph_diagram docs/graph.png
"""
import argparse
import sys
from typing import Dict, List, Tuple

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch  # noqa: E402

from hilserl_bringup import node_index  # noqa: E402
from hilserl_bringup.graph import cameras  # noqa: E402
from hilserl_bringup.runner import default_config_dir  # noqa: E402
from so101_description.cameras import CAMERAS  # noqa: E402

# Where each node is drawn (x, y); layout only, the nodes and arrows come from the index.
PLACES = {'kinematics': (0.0, 4.2), 'reward_classifier': (3.0, 4.2),
          'workspace_markers': (6.5, 4.2), 'sim': (0.0, 2.0), 'actor': (3.0, 1.5),
          'learner': (6.5, 3.0), 'operator': (0.0, -0.6), 'console': (6.5, -0.6)}
# Every node talks to the console through /diagnostics; drawn, it would hide the rest.
LEFT_OUT = {'/diagnostics'}
COLOURS = {'sim': '#d9ead3', 'operator': '#d9ead3', 'learner': '#fce5cd',
           'console': '#eeeeee', 'workspace_markers': '#eeeeee'}


def connections(graph: str = 'train') -> Dict[Tuple[str, str], List[str]]:
    """(from, to) -> what goes that way in the graph with its default arguments in simulation,
    conditions evaluated on the nodes' parameters: topics from publisher to subscriber, service
    calls (`name()`) from caller to server."""
    specs = node_index.graph_specs(graph, {'sim': 'true'})
    graph_cameras = cameras({'sim': 'true', 'front_camera': ''})
    config_dir = default_config_dir()
    sides: Dict[str, Dict[str, List[str]]] = {}
    for spec in specs:
        parameters = node_index.node_parameters(spec, config_dir)
        listed = node_index.ENDPOINTS[(spec.package, spec.executable)]
        for kind in ('publishes', 'subscribes', 'serves', 'calls'):
            for e in getattr(listed, kind):
                if e.name in LEFT_OUT or (e.when and e.when.holds(parameters) is False):
                    continue
                names = node_index.expand(e, spec, parameters.get('cameras') or graph_cameras,
                                          list(CAMERAS))
                for name in names:
                    sides.setdefault(name, {}).setdefault(kind, []).append(spec.name)
    edges: Dict[Tuple[str, str], List[str]] = {}
    for name, side in sorted(sides.items()):
        for source, target, label in (
                [(p, s, name) for p in side.get('publishes', [])
                 for s in side.get('subscribes', [])]
                + [(c, s, name + '()') for s in side.get('serves', [])
                   for c in side.get('calls', [])]):
            edges.setdefault((source, target), []).append(label)
    return edges


def draw(path: str):
    edges = connections()
    figure, axes = plt.subplots(figsize=(13, 9))
    axes.set_aspect('equal')  # arc3 bends in display units: the labels' places below hold
    for name, (x, y) in PLACES.items():
        axes.text(x, y, name, ha='center', va='center', fontsize=12, zorder=3,
                  bbox=dict(boxstyle='round,pad=0.5', fc=COLOURS.get(name, '#cfe2f3'),
                            ec='#444444'))
    for (source, target), names in edges.items():
        start, end = PLACES[source], PLACES[target]
        bend = 0.15 if (target, source) in edges else 0.0  # both ways: two curves
        axes.add_patch(FancyArrowPatch(start, end, arrowstyle='-|>', mutation_scale=14,
                                       color='#555555', shrinkA=28, shrinkB=28,
                                       connectionstyle=f'arc3,rad={bend}'))
        # the middle of the curve: half its control point's offset from the chord
        x = (start[0] + end[0]) / 2 + bend * (end[1] - start[1]) / 2
        y = (start[1] + end[1]) / 2 - bend * (end[0] - start[0]) / 2
        axes.text(x, y, '\n'.join(names), ha='center', va='center', fontsize=7.5,
                  color='#1c4587', zorder=2, bbox=dict(fc='white', ec='none', alpha=0.85,
                                                       pad=0.5))
    axes.set_title('run_graph train sim:=true: topics from publisher to subscriber, service '
                   'calls name() from caller to server; /diagnostics left out.\nOn the real '
                   'arm follower, wrist_camera and front_camera take the place of sim, leader '
                   'that of operator.', fontsize=9)
    axes.set_xlim(-1.2, 7.7)
    axes.set_ylim(-1.5, 4.8)
    axes.axis('off')
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('output', help='the PNG to write, e.g. docs/graph.png')
    draw(parser.parse_args(argv).output)
    return 0


if __name__ == '__main__':
    sys.exit(main())
