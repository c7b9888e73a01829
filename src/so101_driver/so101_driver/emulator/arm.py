"""Emulated servos set up like an arm that LeRobot has calibrated, for tests and benchmarks."""
from typing import Dict, Optional

from so101_driver.calibration import MotorCalibration
from so101_driver.emulator.servo import EmulatedServo
from so101_driver.feetech import registers as reg


def calibrated_servos(calibration: Dict[str, MotorCalibration],
                      ticks: Optional[Dict[str, int]] = None, **servo_options
                      ) -> Dict[str, EmulatedServo]:
    """One servo per motor with the calibration registers LeRobot writes (homing offset, position
    limits), each resting at `ticks[name]` or mid-range."""
    servos = {}
    for name, motor in calibration.items():
        middle = (motor.range_min + motor.range_max) // 2
        servo = EmulatedServo(motor.id, position=(ticks or {}).get(name, middle), **servo_options)
        for register, value in ((reg.HOMING_OFFSET, motor.homing_offset),
                                (reg.MIN_POSITION_LIMIT, motor.range_min),
                                (reg.MAX_POSITION_LIMIT, motor.range_max)):
            servo.write(register.address, reg.encode(register, value))
        servos[name] = servo
    return servos


def example_calibration() -> Dict[str, MotorCalibration]:
    """A plausible SO-101 follower calibration (values of the kind lerobot-calibrate writes)."""
    ranges = {'shoulder_pan': (1, 740, 3380, 0), 'shoulder_lift': (2, 800, 3300, 0),
              'elbow_flex': (3, 850, 3200, 0), 'wrist_flex': (4, 880, 3180, 0),
              'wrist_roll': (5, 120, 3960, 0), 'gripper': (6, 2020, 3480, 0)}
    offsets = {'shoulder_pan': -1470, 'shoulder_lift': 1015, 'elbow_flex': -1095,
               'wrist_flex': 925, 'wrist_roll': -1842, 'gripper': 1260}
    return {name: MotorCalibration(id=i, drive_mode=drive, homing_offset=offsets[name],
                                   range_min=low, range_max=high)
            for name, (i, low, high, drive) in ranges.items()}

