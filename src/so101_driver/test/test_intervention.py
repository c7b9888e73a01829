"""The intervention flag's logic and the leader-to-follower gripper map."""
import numpy as np
import pytest

from so101_driver.leader.gripper import GripperMapping
from so101_driver.leader.intervention import InterventionDetector, InterventionThresholds

DT = 1 / 30


def run(detector, leader_path, follower, t0=0.0):
    return [detector.update(t0 + k * DT, pose, follower) for k, pose in enumerate(leader_path)]


def still(pose, seconds):
    return [np.array(pose, dtype=float)] * int(seconds / DT)


def test_moving_the_leader_away_from_the_follower_starts_a_short_intervention():
    detector = InterventionDetector(InterventionThresholds(0.15, 0.3, 0.5))
    follower = np.zeros(6)
    move = [np.array([0.6 * k / 15, 0, 0, 0, 0, 0]) for k in range(16)]  # 1.2 rad/s for 0.5 s
    flags = run(detector, still(np.zeros(6), 0.5) + move + still(move[-1], 1.0), follower)
    assert not any(flags[:15])                # at rest on the follower's pose
    assert any(flags[15:31])                  # engaged while being moved away
    assert flags[31 + 10] is True             # still on shortly after the motion stops
    assert flags[-1] is False                 # released after 0.5 s of stillness


def test_a_still_leader_far_from_the_follower_is_not_an_intervention():
    detector = InterventionDetector(InterventionThresholds(0.15, 0.3, 0.5))
    flags = run(detector, still([1.0, 0, 0, 0, 0, 0], 2.0), np.zeros(6))
    assert not any(flags)


def test_moving_the_leader_along_with_the_follower_is_not_an_intervention():
    detector = InterventionDetector(InterventionThresholds(0.15, 0.3, 0.5))
    flags = [detector.update(k * DT, [0.02 * k, 0, 0, 0, 0, 0], [0.02 * k, 0, 0, 0, 0, 0])
             for k in range(60)]
    assert not any(flags)


def test_encoder_noise_is_not_motion():
    detector = InterventionDetector(InterventionThresholds(0.15, 0.3, 0.5))
    tick = 2 * np.pi / 4095
    noisy = [np.array([0.5 + tick * (k % 2), 0, 0, 0, 0, 0]) for k in range(90)]
    assert not any(run(detector, noisy, np.zeros(6)))


def test_the_toggle_forces_the_flag_until_toggled_again():
    detector = InterventionDetector(InterventionThresholds())
    assert detector.toggle() is True
    assert all(run(detector, still(np.zeros(6), 0.5), np.zeros(6)))
    detector.toggle()
    assert not any(run(detector, still(np.zeros(6), 0.5), np.zeros(6), t0=1.0))


def test_gripper_mapping_is_linear_and_clipped_to_the_follower_range():
    mapping = GripperMapping([0.2, 1.2], [1.5, 0.0], (-0.17, 1.74))
    assert mapping(0.2) == pytest.approx(1.5)
    assert mapping(0.7) == pytest.approx(0.75)
    assert mapping(-5.0) == pytest.approx(1.74)
    assert mapping.slope == pytest.approx(-1.5)
    with pytest.raises(ValueError, match='two different points'):
        GripperMapping([0.3, 0.3], [0, 1], (0, 1))
