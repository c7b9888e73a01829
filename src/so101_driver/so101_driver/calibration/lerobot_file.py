"""LeRobot calibration files, read as LeRobot writes them.

One JSON object per arm: motor name -> {id, drive_mode, homing_offset, range_min, range_max}
(e.g. ~/.cache/huggingface/lerobot/calibration/robots/so101_follower/<id>.json). Positions are in
the servo's own ticks after its Homing_Offset register, which LeRobot sets so that the pose
held during calibration (every joint in the middle of its range) reads mid-scale.
"""
import dataclasses
import json
import os
from typing import Dict, Iterable

from so101_driver.feetech.registers import TICKS_PER_TURN


class CalibrationError(ValueError):
    """A calibration file that cannot be used; the message names the file and the field."""


@dataclasses.dataclass(frozen=True)
class MotorCalibration:
    id: int
    drive_mode: int
    homing_offset: int
    range_min: int
    range_max: int


_FIELDS = [f.name for f in dataclasses.fields(MotorCalibration)]


def load_calibration(path: str, motor_names: Iterable[str]) -> Dict[str, MotorCalibration]:
    """The calibration of each of `motor_names` from a LeRobot file, validated."""
    path = os.path.expanduser(str(path))
    try:
        with open(path) as stream:
            document = json.load(stream)
    except FileNotFoundError:
        raise CalibrationError(f'calibration file {path} does not exist; calibrate the arm with '
                               f'LeRobot (lerobot-calibrate) or set calibration_file') from None
    except (OSError, UnicodeDecodeError) as error:
        raise CalibrationError(f'calibration file {path} cannot be read: {error}') from None
    except json.JSONDecodeError as error:
        raise CalibrationError(f'calibration file {path} is not valid JSON: {error}') from None
    if not isinstance(document, dict):
        raise CalibrationError(f'calibration file {path}: expected an object of motor names')
    calibration = {name: _motor(path, name, document.get(name)) for name in motor_names}
    ids = [c.id for c in calibration.values()]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise CalibrationError(f'calibration file {path}: servo id(s) {duplicates} are used by '
                               f'more than one motor')
    return calibration


def save_calibration(path: str, calibration: Dict[str, MotorCalibration]) -> None:
    """Write a file in LeRobot's layout (for tools and tests)."""
    with open(os.path.expanduser(str(path)), 'w') as stream:
        json.dump({name: dataclasses.asdict(c) for name, c in calibration.items()}, stream,
                  indent=4)


def _motor(path: str, name: str, entry) -> MotorCalibration:
    where = f'calibration file {path}: motor {name!r}'
    if entry is None:
        raise CalibrationError(f'{where} is missing')
    if not isinstance(entry, dict):
        raise CalibrationError(f'{where}: expected an object with fields {", ".join(_FIELDS)}')
    unknown = sorted(set(entry) - set(_FIELDS))
    if unknown:
        raise CalibrationError(f'{where}: unknown field(s) {", ".join(unknown)}')
    values = {}
    for field in _FIELDS:
        if field not in entry:
            raise CalibrationError(f'{where}: field {field!r} is missing')
        value = entry[field]
        if isinstance(value, bool) or not isinstance(value, int):
            raise CalibrationError(f'{where}: field {field!r} = {value!r} is not an integer')
        values[field] = value
    motor = MotorCalibration(**values)
    _check(where, 'id', motor.id, 0 <= motor.id <= 252, 'a servo id in 0..252')
    _check(where, 'drive_mode', motor.drive_mode, motor.drive_mode in (0, 1), '0 or 1')
    _check(where, 'homing_offset', motor.homing_offset, abs(motor.homing_offset) < 2048,
           'a value in -2047..2047')
    for field in ('range_min', 'range_max'):
        value = getattr(motor, field)
        _check(where, field, value, 0 <= value < TICKS_PER_TURN,
               f'ticks in 0..{TICKS_PER_TURN - 1}')
    _check(where, 'range_max', motor.range_max, motor.range_max > motor.range_min,
           f'more than range_min ({motor.range_min})')
    return motor


def _check(where, field, value, ok, allowed):
    if not ok:
        raise CalibrationError(f'{where}: field {field!r} = {value} is not allowed; expected '
                               f'{allowed}')
