"""Goals stay inside the joint limits and move no faster than the configured speed."""
import numpy as np
import pytest
from sensor_msgs.msg import JointState

from so101_driver.arm.goal_limiter import GoalLimiter
from so101_driver.follower.commands import CommandError, target_from_command

LOWER = np.array([-1.9, -1.7, -1.6, -1.6, -2.7, -0.17])
UPPER = np.array([1.9, 1.7, 1.6, 1.6, 2.8, 1.74])
SPEED = np.array([1.5, 1.5, 1.5, 2.0, 2.0, 3.0])
DT = 1 / 30


def test_goals_are_clipped_to_the_limits_and_the_speed():
    limiter = GoalLimiter(LOWER, UPPER, SPEED)
    limiter.reset(np.zeros(6))
    target = np.array([5.0, -5.0, 0.01, 0.0, 9.0, -3.0])
    goals = [limiter.step(target, DT) for _ in range(200)]
    steps = np.abs(np.diff([np.zeros(6)] + goals, axis=0))
    assert np.all(steps <= SPEED * DT + 1e-12)
    for goal in goals:
        assert np.all(goal >= LOWER) and np.all(goal <= UPPER)
    assert np.allclose(goals[-1], [1.9, -1.7, 0.01, 0.0, 2.8, -0.17])


def test_a_start_outside_the_limits_is_brought_inside():
    limiter = GoalLimiter(LOWER, UPPER, SPEED)
    limiter.reset(np.array([2.5, 0, 0, 0, 0, 0]))
    assert limiter.step(np.zeros(6), DT)[0] <= UPPER[0]


@pytest.mark.parametrize('target', [np.full(6, np.nan), np.zeros(5), [0, 0, 0, np.inf, 0, 0]])
def test_non_finite_or_short_targets_are_refused(target):
    limiter = GoalLimiter(LOWER, UPPER, SPEED)
    limiter.reset(np.zeros(6))
    with pytest.raises(ValueError):
        limiter.step(target, DT)


NAMES = ('shoulder_pan', 'shoulder_lift', 'elbow_flex', 'wrist_flex', 'wrist_roll', 'gripper')


def test_commands_by_name_update_only_the_named_joints():
    current = np.arange(6, dtype=float)
    target = target_from_command(JointState(name=['gripper'], position=[0.5]), NAMES, current)
    assert np.allclose(target, [0, 1, 2, 3, 4, 0.5])
    target = target_from_command(JointState(position=[0.1] * 6), NAMES, None)
    assert np.allclose(target, 0.1)


@pytest.mark.parametrize('msg, message', [
    (JointState(name=['elbow'], position=[0.1]), 'unknown joint'),
    (JointState(name=['gripper'], position=[float('nan')]), 'non-finite'),
    (JointState(position=[0.1] * 5), '5 positions without names'),
    (JointState(name=['gripper', 'elbow_flex'], position=[0.1]), '2 names but 1 positions'),
])
def test_malformed_commands_are_refused_with_the_reason(msg, message):
    with pytest.raises(CommandError, match=message):
        target_from_command(msg, NAMES, np.zeros(6))
