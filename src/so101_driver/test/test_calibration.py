"""LeRobot calibration files and the ticks <-> radians map onto the MuJoCo model."""
import dataclasses
import json
import math

import numpy as np
import pytest

from so101_description.model import JOINT_NAMES, joint_limits
from so101_driver.calibration import (
    CalibrationError,
    JointMap,
    MotorCalibration,
    load_calibration,
    save_calibration,
)
from so101_driver.emulator.arm import example_calibration

# A file exactly as lerobot-calibrate writes it (indent 4, these five fields per motor).
LEROBOT_FILE = '''{
    "shoulder_pan": {"id": 1, "drive_mode": 0, "homing_offset": -1470, "range_min": 740, "range_max": 3380},
    "shoulder_lift": {"id": 2, "drive_mode": 0, "homing_offset": 1015, "range_min": 800, "range_max": 3300},
    "elbow_flex": {"id": 3, "drive_mode": 0, "homing_offset": -1095, "range_min": 850, "range_max": 3200},
    "wrist_flex": {"id": 4, "drive_mode": 0, "homing_offset": 925, "range_min": 880, "range_max": 3180},
    "wrist_roll": {"id": 5, "drive_mode": 0, "homing_offset": -1842, "range_min": 120, "range_max": 3960},
    "gripper": {"id": 6, "drive_mode": 0, "homing_offset": 1260, "range_min": 2020, "range_max": 3480}
}'''


@pytest.fixture
def calibration_file(tmp_path):
    path = tmp_path / 'so101_follower.json'
    path.write_text(LEROBOT_FILE)
    return path


def joint_map(calibration):
    return JointMap(calibration, JOINT_NAMES, *joint_limits())


def test_a_lerobot_file_is_read_unchanged(calibration_file):
    calibration = load_calibration(calibration_file, JOINT_NAMES)
    assert calibration['elbow_flex'] == MotorCalibration(3, 0, -1095, 850, 3200)
    assert calibration == example_calibration()


def test_saved_files_read_back(tmp_path):
    path = tmp_path / 'copy.json'
    save_calibration(path, example_calibration())
    assert load_calibration(path, JOINT_NAMES) == example_calibration()
    assert set(json.loads(path.read_text())['gripper']) == {
        'id', 'drive_mode', 'homing_offset', 'range_min', 'range_max'}


@pytest.mark.parametrize('mutate, message', [
    (lambda d: d.pop('wrist_flex'), r"motor 'wrist_flex' is missing"),
    (lambda d: d['gripper'].pop('range_max'), r"motor 'gripper': field 'range_max' is missing"),
    (lambda d: d['elbow_flex'].update(range_min='850'), r"'range_min' = '850' is not an integer"),
    (lambda d: d['elbow_flex'].update(range_min=3300), r"'range_max' = 3200 is not allowed"),
    (lambda d: d['wrist_roll'].update(range_max=5000), r"'range_max' = 5000 is not allowed"),
    (lambda d: d['gripper'].update(id=1), r'servo id\(s\) \[1\] are used by more than one'),
    (lambda d: d['gripper'].update(drive_mode=2), r"'drive_mode' = 2 is not allowed"),
    (lambda d: d['gripper'].update(homing=3), r"unknown field\(s\) homing"),
])
def test_a_malformed_file_names_the_file_and_the_field(calibration_file, mutate, message):
    document = json.loads(LEROBOT_FILE)
    mutate(document)
    calibration_file.write_text(json.dumps(document))
    with pytest.raises(CalibrationError, match=message) as error:
        load_calibration(calibration_file, JOINT_NAMES)
    assert str(calibration_file) in str(error.value)


def test_missing_and_broken_files_are_named(tmp_path):
    with pytest.raises(CalibrationError, match=r'nope\.json does not exist'):
        load_calibration(tmp_path / 'nope.json', JOINT_NAMES)
    (tmp_path / 'broken.json').write_text('{"shoulder_pan": ')
    with pytest.raises(CalibrationError, match=r'broken\.json is not valid JSON'):
        load_calibration(tmp_path / 'broken.json', JOINT_NAMES)


def test_ticks_round_trip_through_radians_over_every_calibrated_tick():
    calibration = example_calibration()
    mapping = joint_map(calibration)
    for index, name in enumerate(JOINT_NAMES):
        ticks = np.arange(calibration[name].range_min, calibration[name].range_max + 1)
        grid = np.tile(mapping.to_ticks(np.zeros(6)), (ticks.size, 1))
        grid[:, index] = ticks
        assert np.array_equal(mapping.to_ticks(mapping.to_radians(grid))[:, index], ticks), name


def test_mid_range_is_the_model_zero_and_the_gripper_spans_the_model_range():
    calibration = example_calibration()
    mapping = joint_map(calibration)
    middle = [(calibration[n].range_min + calibration[n].range_max) / 2 for n in JOINT_NAMES]
    assert np.allclose(mapping.to_radians(middle)[:5], 0.0)
    lower, upper = joint_limits()
    gripper = calibration['gripper']
    assert mapping.to_radians([0, 0, 0, 0, 0, gripper.range_min])[5] == pytest.approx(lower[5])
    assert mapping.to_radians([0, 0, 0, 0, 0, gripper.range_max])[5] == pytest.approx(upper[5])
    # 4095 ticks per turn (LeRobot's degrees): a quarter turn from the middle is pi/2.
    assert mapping.to_radians([middle[0] + 4095 / 4] + middle[1:])[0] == pytest.approx(math.pi / 2)


def test_a_reversed_gripper_maps_its_range_the_other_way():
    calibration = dict(example_calibration())
    calibration['gripper'] = dataclasses.replace(calibration['gripper'], drive_mode=1)
    mapping = joint_map(calibration)
    lower, upper = joint_limits()
    assert mapping.to_radians([0, 0, 0, 0, 0, 2020])[5] == pytest.approx(upper[5])
    assert mapping.to_ticks([0, 0, 0, 0, 0, lower[5]])[5] == 3480


def test_limits_are_the_calibrated_range_within_the_model_limits():
    calibration = example_calibration()
    mapping = joint_map(calibration)
    lower, upper = joint_limits()
    assert np.all(mapping.lower >= lower) and np.all(mapping.upper <= upper)
    # shoulder_pan's calibrated range (+-1320 ticks, 2.03 rad) is wider than the model's.
    assert mapping.upper[0] == pytest.approx(upper[0])
    # elbow_flex's (+-1175 ticks, 1.80 rad) too; wrist_flex's (+-1150, 1.76 rad) too.
    assert np.all(mapping.to_ticks(mapping.upper) <= [c.range_max for c in calibration.values()])
    # Anything asked beyond the range becomes the range's end in ticks, never more.
    assert np.array_equal(mapping.to_ticks(np.full(6, 50.0)),
                          [c.range_max for c in calibration.values()])


def test_a_range_outside_the_model_limits_is_refused():
    lower, upper = joint_limits()
    lower, upper = lower.copy(), upper.copy()
    lower[2], upper[2] = 2.0, 2.5  # a model whose elbow cannot reach the calibrated range
    with pytest.raises(CalibrationError, match='elbow_flex does not overlap'):
        JointMap(example_calibration(), JOINT_NAMES, lower, upper)
