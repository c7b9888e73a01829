"""Arm calibration: LeRobot calibration files and the ticks <-> radians map onto the model."""
from so101_driver.calibration.joint_map import JointMap
from so101_driver.calibration.lerobot_file import (
                                                   CalibrationError,
                                                   MotorCalibration,
                                                   load_calibration,
                                                   save_calibration,
)

__all__ = ['CalibrationError', 'JointMap', 'MotorCalibration', 'load_calibration',
           'save_calibration']
