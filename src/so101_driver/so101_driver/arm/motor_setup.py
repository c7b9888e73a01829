"""The servo settings written at every connection, per arm role.

Values are the ones the SO-101 community runs on real arms (LeRobot's SO-101 configuration):
position mode, no return delay (the factory 500 us would stretch every sync read), fastest
acceleration, P 16 (the factory 32 makes the arm shake), I 0, D 32, and a gripper limited to half
its torque and current so that it cannot burn out while squeezing an object.
"""
import dataclasses
from typing import Dict, List, Tuple

from so101_driver.feetech import registers as reg

Setting = Tuple[reg.Register, int]


@dataclasses.dataclass(frozen=True)
class MotorSetup:
    every_motor: Tuple[Setting, ...]
    per_motor: Dict[str, Tuple[Setting, ...]] = dataclasses.field(default_factory=dict)

    def settings_for(self, motor_name: str) -> List[Setting]:
        return list(self.every_motor) + list(self.per_motor.get(motor_name, ()))


FOLLOWER = MotorSetup(
    every_motor=((reg.RETURN_DELAY_TIME, 0), (reg.OPERATING_MODE, 0),
                 (reg.MAXIMUM_ACCELERATION, 254), (reg.ACCELERATION, 254),
                 (reg.P_COEFFICIENT, 16), (reg.I_COEFFICIENT, 0), (reg.D_COEFFICIENT, 32)),
    per_motor={'gripper': ((reg.MAX_TORQUE_LIMIT, 500), (reg.PROTECTION_CURRENT, 250),
                           (reg.OVERLOAD_TORQUE, 25))},
)

# The leader is moved by hand with torque off: only the bus timing and the mode matter.
LEADER = MotorSetup(every_motor=((reg.RETURN_DELAY_TIME, 0), (reg.OPERATING_MODE, 0)))
