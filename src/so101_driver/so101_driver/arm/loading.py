"""Build a ServoArm from a node's configuration, with errors the user can act on."""
from hilserl_common.config import ConfigError
from so101_description.model import JOINT_NAMES, joint_limits
from so101_driver.arm.config import ArmBusConfig
from so101_driver.arm.motor_setup import MotorSetup
from so101_driver.arm.servo_arm import ServoArm
from so101_driver.calibration import CalibrationError, JointMap, load_calibration


def arm_from_config(config: ArmBusConfig, setup: MotorSetup) -> ServoArm:
    """The arm of `config.calibration_file` on `config.port`; ConfigError if unusable."""
    if not config.calibration_file:
        raise ConfigError("parameter 'calibration_file' is empty; set it to the arm's LeRobot "
                          "calibration JSON")
    try:
        calibration = load_calibration(config.calibration_file, JOINT_NAMES)
        joint_map = JointMap(calibration, JOINT_NAMES, *joint_limits(),
                             source=config.calibration_file)
    except CalibrationError as error:
        raise ConfigError(str(error)) from None
    return ServoArm(config.bus_settings(), joint_map, calibration, setup)
