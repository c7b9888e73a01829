"""Parameters of the follower driver (config/follower.yaml)."""
import dataclasses

from hilserl_common.config import length, param, positive
from so101_driver.arm.config import ArmBusConfig


@dataclasses.dataclass(frozen=True)
class FollowerConfig(ArmBusConfig):
    port: str = param('/dev/ttyACM0', "serial device of the follower arm's bus adapter")
    calibration_file: str = param(
        '~/.cache/huggingface/lerobot/calibration/robots/so101_follower/follower.json',
        'LeRobot calibration JSON of the follower arm')
    max_speed_rad_s: list = param([1.5, 1.5, 1.5, 2.0, 2.0, 3.0],
                                  'fastest the written goal may move toward a command, per joint',
                                  length(6, positive))
    torque_on_start: bool = param(True, 'enable torque (holding the present pose) once connected')
