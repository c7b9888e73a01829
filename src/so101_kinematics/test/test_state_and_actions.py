"""The 18-dim proprioceptive state and the action space shared by the actor and the learner."""
import numpy as np
import pytest

from so101_kinematics.action_space import (
    GripperAction,
    action_to_ee_delta,
    ee_delta_to_action,
    gripper_target,
    human_action,
    human_gripper_action,
    quantise_gripper,
)
from so101_kinematics.proprioception import (
    STATE_DIM,
    STATE_NAMES,
    ProprioceptionTracker,
    proprioceptive_state,
)

JOINTS = np.array([0.1, 0.01, 0.03, 1.38, 0.0, 0.8])


def test_state_layout_is_joints_velocities_ee_position_and_rpy(kinematics):
    previous = JOINTS - np.array([0.01, 0.02, -0.03, 0.0, 0.005, -0.1])
    state = proprioceptive_state(kinematics, JOINTS, previous, dt_s=0.1)
    assert state.shape == (STATE_DIM,) and len(STATE_NAMES) == STATE_DIM
    assert state.dtype == np.float32
    np.testing.assert_allclose(state[:6], JOINTS, atol=1e-6)
    np.testing.assert_allclose(state[6:12], [0.1, 0.2, -0.3, 0.0, 0.05, -1.0], atol=1e-5)
    pose = kinematics.forward(JOINTS)
    np.testing.assert_allclose(state[12:15], pose.position, atol=1e-6)
    np.testing.assert_allclose(state[15:18], pose.rpy, atol=1e-6)


def test_tracker_zeroes_velocities_at_episode_start_and_uses_stamps(kinematics):
    tracker = ProprioceptionTracker(kinematics, nominal_dt_s=0.1)
    assert np.all(tracker.update(JOINTS)[6:12] == 0)
    moved = JOINTS + 0.02
    np.testing.assert_allclose(tracker.update(moved)[6:12], 0.2, atol=1e-5)
    tracker.reset()
    assert np.all(tracker.update(JOINTS, time_s=10.0)[6:12] == 0)
    np.testing.assert_allclose(tracker.update(moved, time_s=10.05)[6:12], 0.4, atol=1e-4)


def test_bad_joints_are_a_clear_error_not_a_nan_state(kinematics):
    with pytest.raises(ValueError, match='NaN'):
        proprioceptive_state(kinematics, [np.nan] * 6, None, 0.1)
    with pytest.raises(ValueError, match='6 joint positions'):
        proprioceptive_state(kinematics, [0.0] * 5, None, 0.1)


def test_ee_delta_and_action_round_trip_and_clip():
    delta = np.array([0.01, -0.02, 0.005])
    action = ee_delta_to_action(delta, 0.02)
    np.testing.assert_allclose(action, [0.5, -1.0, 0.25])
    np.testing.assert_allclose(action_to_ee_delta(action, 0.02), delta)
    np.testing.assert_allclose(ee_delta_to_action([0.1, -0.1, 0.0], 0.02), [1, -1, 0])
    np.testing.assert_allclose(action_to_ee_delta([3.0, -2.0, 0.0], 0.02), [0.02, -0.02, 0])
    np.testing.assert_allclose(action_to_ee_delta([np.nan, np.inf, 0.5], 0.02), [0, 0, 0.01])
    with pytest.raises(ValueError):
        action_to_ee_delta([0.0, 0.0], 0.02)


def test_a_human_steps_action_is_the_followers_motion():
    ee = np.array([0.25, 0.0, 0.07])
    np.testing.assert_allclose(human_action(ee, ee + [0.01, -0.03, 0.0], 0.02), [0.5, -1.0, 0])
    np.testing.assert_allclose(human_action(ee, [np.nan, 0.0, 0.08], 0.02), [0, 0, 0.5])
    # The leader's gripper, when read, says what the operator asked; else the follower's change.
    assert human_gripper_action(0.8, 0.8, -0.17, 0.05) is GripperAction.CLOSE
    assert human_gripper_action(0.8, 0.5, None, 0.05) is GripperAction.CLOSE
    assert human_gripper_action(0.1, 0.1, None, 0.05) is GripperAction.STAY
    assert human_gripper_action(0.1, 0.1, 0.8, 0.05) is GripperAction.OPEN


def test_gripper_quantisation_and_targets():
    assert quantise_gripper(-0.3, 0.05) is GripperAction.CLOSE
    assert quantise_gripper(0.3, 0.05) is GripperAction.OPEN
    assert quantise_gripper(0.04, 0.05) is GripperAction.STAY
    assert quantise_gripper(np.nan, 0.05) is GripperAction.STAY
    assert quantise_gripper(0.1, 0.2) is GripperAction.STAY  # threshold is configurable
    assert gripper_target(0, 0.5, -0.1, 1.0) == -0.1
    assert gripper_target(1, 0.5, -0.1, 1.0) == 0.5
    assert gripper_target(2, 0.5, -0.1, 1.0) == 1.0
    assert gripper_target(7, 0.5, -0.1, 1.0) == 0.5
