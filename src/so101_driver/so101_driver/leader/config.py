"""Parameters of the leader arm node (config/leader.yaml)."""
import dataclasses

from hilserl_common.config import in_range, length, non_negative, param, positive

from so101_driver.arm.config import ArmBusConfig


@dataclasses.dataclass(frozen=True)
class LeaderConfig(ArmBusConfig):
    port: str = param('/dev/ttyACM1', "serial device of the leader arm's bus adapter")
    calibration_file: str = param(
        '~/.cache/huggingface/lerobot/calibration/teleoperators/so101_leader/leader.json',
        'LeRobot calibration JSON of the leader arm')
    engage_deviation_rad: float = param(0.15, 'an intervention starts when the leader is moved '
                                              'while this far from the follower (any joint)',
                                        positive)
    motion_rad_s: float = param(0.3, 'leader joint speed that counts as a person moving it',
                                positive)
    release_after_s: float = param(0.5, 'the intervention ends when the leader has been still '
                                        'this long', positive)
    follower_timeout_s: float = param(0.5, "follower joint_states older than this are ignored",
                                      positive)
    toggle_device: str = param('', 'input device of a foot pedal or keyboard '
                                   '(/dev/input/by-id/...-event-kbd); empty: none')
    toggle_key_code: int = param(57, 'Linux key code that toggles the intervention '
                                     '(57 KEY_SPACE; see linux/input-event-codes.h)',
                                 in_range(0, 767))
    toggle_stdin_key: str = param('', 'a character on stdin that toggles the intervention; '
                                      'empty: none')
    gripper_leader_rad: list = param([0.0, 1.0], 'two leader gripper positions ...',
                                     length(2))
    gripper_follower_rad: list = param([0.0, 1.0], '... and the follower gripper positions they '
                                                   'command (clipped to its limits)', length(2))
    telemetry_period_s: float = param(0.0, 'how often voltage, temperature and load are read '
                                           '(0: never)', non_negative)
