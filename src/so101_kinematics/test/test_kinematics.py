"""FK against MuJoCo's own site pose; IK accuracy, limits, bounds and bad input."""
import mujoco
import numpy as np
import pytest

from so101_description.model import EE_SITE, model_xml_path
from so101_kinematics.kinematics import IKStatus, Kinematics, KinematicsConfig, rotation_to_rpy

RESET_JOINTS = np.array([0.0, 0.01, 0.03, 1.38, 0.0, 0.8])  # EE near [0.25, 0, 0.07]


def random_joints(kinematics, rng, margin=0.1):
    return rng.uniform(kinematics.lower + margin, kinematics.upper - margin)


def rpy_to_rotation(rpy):
    roll, pitch, yaw = rpy
    rx = np.array([[1, 0, 0], [0, np.cos(roll), -np.sin(roll)], [0, np.sin(roll), np.cos(roll)]])
    ry = np.array([[np.cos(pitch), 0, np.sin(pitch)], [0, 1, 0],
                   [-np.sin(pitch), 0, np.cos(pitch)]])
    rz = np.array([[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]])
    return rz @ ry @ rx


def test_fk_matches_mujoco_site_pose_of_the_full_model(kinematics):
    model = mujoco.MjModel.from_xml_path(str(model_xml_path()))  # with meshes, as shipped
    data = mujoco.MjData(model)
    rng = np.random.default_rng(0)
    for _ in range(50):
        joints = random_joints(kinematics, rng, margin=0.0)
        data.qpos[:] = joints
        mujoco.mj_forward(model, data)
        pose = kinematics.forward(joints)
        assert pose.ok
        np.testing.assert_allclose(pose.position, data.site(EE_SITE).xpos, atol=1e-9)
        site_rotation = data.site(EE_SITE).xmat.reshape(3, 3)
        tool_rotation = np.empty(9)
        mujoco.mju_quat2Mat(tool_rotation, pose.quat_wxyz)
        tool_rotation = tool_rotation.reshape(3, 3)
        # The tool frame is the site frame turned so its z points back out of the jaws.
        np.testing.assert_allclose(tool_rotation[:, 2], -site_rotation[:, 0], atol=1e-9)
        np.testing.assert_allclose(tool_rotation[:, 0], site_rotation[:, 2], atol=1e-9)
        np.testing.assert_allclose(rpy_to_rotation(pose.rpy), tool_rotation, atol=1e-6)


def test_rpy_is_zero_pointing_down_and_yaw_follows_pan(kinematics):
    result = kinematics.inverse([0.22, 0.0, 0.05], RESET_JOINTS, max_iterations=100,
                                max_joint_step_rad=3.0)
    down = kinematics.forward(result.joints)
    assert kinematics.approach_axis(result.joints)[2] < -0.95
    assert abs(down.rpy[0]) < 0.05 and abs(down.rpy[2]) < 0.05 and abs(down.rpy[1]) < 0.35
    turned = result.joints.copy()
    turned[0] += 0.4
    # The model's pan axis points down (+pan swings the arm towards -y): yaw = -pan.
    np.testing.assert_allclose(kinematics.forward(turned).rpy[2], down.rpy[2] - 0.4, atol=1e-6)


def test_rotation_to_rpy_inverts_rpy_to_rotation():
    rng = np.random.default_rng(1)
    for _ in range(20):
        rpy = rng.uniform([-3, -1.5, -3], [3, 1.5, 3])
        np.testing.assert_allclose(rotation_to_rpy(rpy_to_rotation(rpy)), rpy, atol=1e-9)


def test_ik_reaches_reachable_targets_within_2mm_in_bounded_iterations(kinematics):
    rng = np.random.default_rng(2)
    reached = 0
    while reached < 40:
        # A reachable target: the FK of random joints, kept when inside the workspace box.
        target = kinematics.position(random_joints(kinematics, rng))
        if np.any(target < kinematics.bounds_min) or np.any(target > kinematics.bounds_max):
            continue
        result = kinematics.inverse(target, RESET_JOINTS, max_iterations=60,
                                    max_joint_step_rad=3.0)
        assert result.status is IKStatus.OK, result.message
        assert result.error_m <= 0.002 and result.iterations <= 60
        np.testing.assert_allclose(kinematics.position(result.joints), target, atol=0.002)
        reached += 1


def test_small_steps_converge_with_the_default_joint_step(kinematics):
    rng = np.random.default_rng(3)
    start = kinematics.position(RESET_JOINTS)
    for _ in range(30):
        target = start + rng.uniform(-0.02, 0.02, size=3)
        result = kinematics.inverse(target, RESET_JOINTS)
        assert result.status is IKStatus.OK, result.message
        assert result.error_m <= 0.002
        assert result.iterations <= kinematics.config.ik_max_iterations


def test_ik_never_leaves_joint_limits_or_the_per_call_step(kinematics):
    rng = np.random.default_rng(4)
    step = kinematics.config.max_joint_step_rad
    for _ in range(150):
        measured = rng.uniform(kinematics.lower - 0.2, kinematics.upper + 0.2)  # even outside
        target = rng.uniform([-0.6, -0.6, -0.3], [0.6, 0.6, 0.6])  # mostly unreachable
        result = kinematics.inverse(target, measured)
        assert np.all(result.joints >= kinematics.lower)
        assert np.all(result.joints <= kinematics.upper)
        inside = np.clip(measured, kinematics.lower, kinematics.upper)
        assert np.all(np.abs(result.joints - inside) <= step + 1e-9)
        # The wrist roll and the gripper are not IK's to move.
        np.testing.assert_allclose(result.joints[4:], inside[4:])
        assert result.status in (IKStatus.OK, IKStatus.CLIPPED, IKStatus.NOT_CONVERGED)


def test_targets_outside_the_bounds_are_clipped(kinematics):
    target = [0.5, 0.3, -0.1]  # beyond max x, max y, below min z
    result = kinematics.inverse(target, RESET_JOINTS, max_iterations=200, max_joint_step_rad=3.0)
    assert result.clipped
    np.testing.assert_allclose(result.target, [0.35, 0.15, kinematics.bounds_min[2]])
    assert result.status is IKStatus.CLIPPED, result.message
    assert np.all(result.reached >= kinematics.bounds_min - 0.002)
    assert np.all(result.reached <= kinematics.bounds_max + 0.002)
    assert 'clipped' in result.message


def test_an_unreachable_step_is_reported_not_raised(kinematics):
    far = [0.12, -0.14, 0.24]  # in bounds, far from the reset pose: one call's step is not enough
    result = kinematics.inverse(far, RESET_JOINTS, max_joint_step_rad=0.05)
    assert result.status is IKStatus.NOT_CONVERGED
    assert result.error_m > 0.002 and 'mm away' in result.message
    # Best effort: closer than where it started.
    start_error = np.linalg.norm(kinematics.position(RESET_JOINTS) - far)
    assert result.error_m < start_error


@pytest.mark.parametrize('target, measured, commandable', [
    ([np.nan, 0.0, 0.1], RESET_JOINTS, True),
    ([0.2, 0.0], RESET_JOINTS, True),
    ('up', RESET_JOINTS, True),
    ([0.2, 0.0, 0.1], [np.nan] * 6, False),
    ([0.2, 0.0, 0.1], [0.0] * 5, False),
    ([0.2, 0.0, 0.1], None, False),
    ([np.inf, 0.0, 0.1], [0.0, np.nan, 0, 0, 0, 0], False),
])
def test_bad_input_gives_an_invalid_status_and_safe_joints(kinematics, target, measured,
                                                           commandable):
    result = kinematics.inverse(target, measured)
    assert result.status is IKStatus.INVALID_INPUT
    assert result.commandable is commandable
    assert result.message
    assert np.all(np.isfinite(result.joints))
    assert np.all(result.joints >= kinematics.lower) and np.all(result.joints <= kinematics.upper)
    if commandable:  # holds the measured joints
        np.testing.assert_allclose(result.joints, RESET_JOINTS)


def test_fk_of_bad_joints_reports_instead_of_raising(kinematics):
    pose = kinematics.forward([0.0, np.nan, 0, 0, 0, 0])
    assert not pose.ok and 'NaN' in pose.message and np.all(np.isnan(pose.position))
    assert not kinematics.forward([1, 2, 3]).ok


def test_inverted_bounds_are_a_config_error():
    from hilserl_common.config import ConfigError
    with pytest.raises(ConfigError, match='ee_bounds_min'):
        KinematicsConfig(ee_bounds_min=[0.3, 0, 0], ee_bounds_max=[0.2, 0.1, 0.1])


def test_position_only_ik_when_the_approach_cost_is_zero():
    kinematics = Kinematics(KinematicsConfig(approach_down_cost=0.0))
    result = kinematics.inverse([0.2, 0.05, 0.1], RESET_JOINTS, max_iterations=60,
                                max_joint_step_rad=3.0)
    assert result.status is IKStatus.OK and result.error_m <= 0.002
