"""Bus and calibration parameters shared by the follower and the leader drivers."""
import dataclasses

from hilserl_common.config import in_range, non_negative, param, positive
from so101_driver.arm.servo_arm import BusSettings


@dataclasses.dataclass(frozen=True)
class ArmBusConfig:
    port: str = param('/dev/ttyACM0', "serial device of the arm's Feetech bus adapter")
    baudrate: int = param(1_000_000, 'bus baud rate (the STS3215 factory setting is 1000000)',
                          positive)
    calibration_file: str = param('', 'LeRobot calibration JSON of this arm')
    verify_calibration: bool = param(True, 'refuse servos whose Homing_Offset or position limit '
                                           'registers differ from the calibration file')
    rate_hz: float = param(30.0, 'bus cycle and joint_states publishing rate',
                           in_range(1.0, 200.0))
    packet_timeout_ms: float = param(10.0, 'wait for a servo reply before counting it lost; '
                                           'raise it for adapters with a 16 ms USB latency '
                                           'timer (FTDI)', in_range(1.0, 200.0))
    attempts_per_cycle: int = param(4, 'sync-read attempts per cycle before the cycle fails '
                                       '(each asks only the servos without a trusted answer)',
                                    in_range(1, 10))
    failures_before_reconnect: int = param(5, 'failed cycles in a row before the servos are '
                                              'checked again (they may have lost power)',
                                           in_range(1, 1000))
    reconnect_interval_s: float = param(0.25, 'time between attempts to reopen a port that '
                                              'failed (a silent bus is asked every cycle)',
                                        positive)
    max_servo_speed_rad_s: float = param(12.0, 'a position reading farther from the last one '
                                               'than a servo shaft turning this fast could go is '
                                               'dropped as implausible (an STS3215 turns at most '
                                               'about 7 rad/s; a hand moving the leader, faster)',
                                         positive)
    torque_off_timeout_s: float = param(2.0, 'how long shutdown keeps trying until every servo '
                                             'confirms torque off', in_range(0.1, 8.0))
    telemetry_period_s: float = param(1.0, 'how often voltage, temperature and load are read '
                                           '(0: never)', non_negative)

    def bus_settings(self) -> BusSettings:
        return BusSettings(port=self.port, baudrate=self.baudrate,
                           packet_timeout_ms=self.packet_timeout_ms,
                           attempts_per_cycle=self.attempts_per_cycle,
                           failures_before_reconnect=self.failures_before_reconnect,
                           reconnect_interval_s=self.reconnect_interval_s,
                           verify_calibration=self.verify_calibration,
                           max_servo_speed_rad_s=self.max_servo_speed_rad_s,
                           torque_off_timeout_s=self.torque_off_timeout_s)
