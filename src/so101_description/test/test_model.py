"""The arm model the whole workspace shares: joint names and limits come from the shipped MJCF."""
import mujoco
import numpy as np

from so101_description.model import (
    BASE_SITE,
    EE_SITE,
    JOINT_NAMES,
    joint_limits,
    load_kinematic_model,
    model_xml_path,
)


def test_joint_names_follow_the_model_order():
    model = mujoco.MjModel.from_xml_path(str(model_xml_path()))
    assert tuple(model.joint(i).name for i in range(model.njnt)) == JOINT_NAMES


def test_joint_limits_are_the_model_ranges_in_radians():
    lower, upper = joint_limits()
    model = load_kinematic_model()
    assert lower.shape == upper.shape == (6,)
    np.testing.assert_allclose(lower, [model.joint(n).range[0] for n in JOINT_NAMES])
    np.testing.assert_allclose(upper, [model.joint(n).range[1] for n in JOINT_NAMES])
    # New calibration: zero is inside every range; every range is under a full turn.
    assert np.all(lower < 0) and np.all(upper > 0) and np.all(upper - lower < 2 * np.pi)


def test_joint_limits_returns_copies():
    lower, _ = joint_limits()
    lower[:] = 0
    assert joint_limits()[0][0] < 0


def test_kinematic_model_keeps_the_sites():
    model = load_kinematic_model()
    assert model.site(EE_SITE).id >= 0 and model.site(BASE_SITE).id >= 0


def test_joint_states_are_put_in_model_order():
    from so101_description.model import JOINT_NAMES, joints_in_model_order
    shuffled = list(reversed(JOINT_NAMES))
    positions = [float(i) for i in range(6)]
    assert joints_in_model_order(shuffled, positions).tolist() == list(reversed(positions))
    assert joints_in_model_order(JOINT_NAMES[:5], positions[:5]) is None
    assert joints_in_model_order(JOINT_NAMES, positions[:5]) is None
