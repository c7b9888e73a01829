"""The robot description rviz shows: meshes resolvable, root frame `base`, and the arm drawn where
the workspace's kinematics (MuJoCo model) says it is."""
import xml.etree.ElementTree as ElementTree
from urllib.parse import urlparse

import numpy as np
import pytest

from so101_description.model import JOINT_NAMES, joint_limits
from so101_description.robot_description import BASE_FRAME, robot_description
from so101_kinematics.kinematics import Kinematics


def _rpy_matrix(roll, pitch, yaw):
    cr, sr, cp, sp, cy, sy = np.cos(roll), np.sin(roll), np.cos(pitch), np.sin(pitch), \
        np.cos(yaw), np.sin(yaw)
    return np.array([[cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
                     [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
                     [-sp, cp * sr, cp * cr]])


def _axis_matrix(axis, angle):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def _transform(rotation, translation):
    t = np.eye(4)
    t[:3, :3], t[:3, 3] = rotation, translation
    return t


def urdf_link_pose(description: str, link: str, joints: dict) -> np.ndarray:
    """What robot_state_publisher computes: the link's pose in the root frame (URDF semantics)."""
    robot = ElementTree.fromstring(description)
    by_child = {j.find('child').get('link'): j for j in robot.findall('joint')}
    chain = []
    while link in by_child:
        chain.append(by_child[link])
        link = by_child[link].find('parent').get('link')
    pose = np.eye(4)
    for joint in reversed(chain):
        origin = joint.find('origin')
        xyz = [float(v) for v in origin.get('xyz', '0 0 0').split()]
        rpy = [float(v) for v in origin.get('rpy', '0 0 0').split()]
        pose = pose @ _transform(_rpy_matrix(*rpy), xyz)
        if joint.get('type') == 'revolute':
            axis = [float(v) for v in joint.find('axis').get('xyz').split()]
            pose = pose @ _transform(_axis_matrix(axis, joints[joint.get('name')]), np.zeros(3))
    return pose


def test_mesh_uris_are_absolute_files_that_exist():
    description = robot_description()
    meshes = [m.get('filename') for m in ElementTree.fromstring(description).iter('mesh')]
    assert len(meshes) > 10
    for uri in meshes:
        parsed = urlparse(uri)
        assert parsed.scheme == 'file', uri
        assert open(parsed.path, 'rb').read(5), uri


def test_the_root_is_the_workspace_base_frame():
    robot = ElementTree.fromstring(robot_description())
    children = {c.get('link') for c in robot.iter('child')}
    roots = [link.get('name') for link in robot.findall('link') if link.get('name') not in children]
    assert roots == [BASE_FRAME]
    assert {j.get('name') for j in robot.findall('joint') if j.get('type') == 'revolute'} \
        == set(JOINT_NAMES)


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_the_drawn_gripper_frame_is_where_kinematics_puts_the_ee(seed):
    lower, upper = joint_limits()
    joints = np.zeros(6) if seed == 0 else np.random.default_rng(seed).uniform(lower, upper)
    description = robot_description()
    drawn = urdf_link_pose(description, 'gripper_frame_link', dict(zip(JOINT_NAMES, joints)))
    ee = Kinematics().forward(joints)
    assert np.allclose(drawn[:3, 3], ee.position, atol=1e-4), (drawn[:3, 3], ee.position)


def test_a_missing_mesh_is_named(tmp_path):
    urdf = tmp_path / 'arm.urdf'
    urdf.write_text('<robot name="a"><link name="base_link"><visual><geometry>'
                    '<mesh filename="assets/gone.stl"/></geometry></visual></link></robot>')
    with pytest.raises(FileNotFoundError, match='gone.stl'):
        robot_description(urdf)
