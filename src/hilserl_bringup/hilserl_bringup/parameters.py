"""The order in which a node's parameters apply, the same under the runner and `ros2 launch`:

    the node's files in config/  <  what the graph sets  <  the user's config_file:=

Each of the three is a parameter file, passed in that order. rcl merges the sections of all files
that have the same key in file order, then applies the keys in the order they first appeared; so
the graph's own file uses the key the config/ files and a user's overrides use, `/**/<node>`, and
the user's file, last, has the last word. (launch_ros writes a dict of parameters under the node's
full name, a key of its own applied after every `/**/<node>` section: it would beat the user's.)
No ROS import here.
"""
import os
from typing import List

import yaml

from hilserl_bringup.graph import NodeSpec


def section_key(node_name: str) -> str:
    """The key every parameter file of this workspace uses for one node's section."""
    return f'/**/{node_name}'


def write_graph_parameters(spec: NodeSpec, directory: str) -> str:
    """The graph's parameters of one node as a parameter file in `directory` ('' when the graph
    sets none)."""
    if not spec.parameters:
        return ''
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f'{spec.name}.yaml')
    document = {section_key(spec.name): {'ros__parameters': dict(spec.parameters)}}
    with open(path, 'w') as stream:
        yaml.safe_dump(document, stream, sort_keys=True)
    return path


def parameter_files(spec: NodeSpec, config_dir: str, user_file: str,
                    generated_dir: str) -> List[str]:
    """The parameter files of one node, lowest precedence first (see the module docstring);
    writes the graph's file into `generated_dir`."""
    files = [os.path.join(config_dir, name) for name in spec.params_files]
    graph_file = write_graph_parameters(spec, generated_dir)
    return files + ([graph_file] if graph_file else []) + ([user_file] if user_file else [])
