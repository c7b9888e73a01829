"""Parameters of the leader arm node (config/leader.yaml)."""
import dataclasses
from typing import Dict

from hilserl_common.config import ConfigError, in_range, length, non_negative, param, positive
from so101_driver.arm.config import ArmBusConfig

# What a key does: toggle the intervention, or send this operator_event to the actor.
KEY_ACTIONS = ('toggle', 'success', 'failure', 'rerecord', 'pause_toggle')


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
    # Operator keys: the intervention toggle and the episode marks the actor acts on
    # (operator_event: success ends the episode as a success, failure ends it, rerecord
    # discards it and records it again).
    key_device: str = param('', 'input device read for the operator keys: a foot pedal or '
                                'keyboard (/dev/input/by-id/...-event-kbd); empty: none')
    toggle_key_code: int = param(57, 'Linux key code on key_device that toggles the '
                                     'intervention (57 KEY_SPACE; see linux/input-event-codes.h; '
                                     '0: none)', in_range(0, 767))
    success_key_code: int = param(31, 'key code that marks the episode a success '
                                      '(31 KEY_S; 0: none)', in_range(0, 767))
    failure_key_code: int = param(33, 'key code that ends the episode as a failure '
                                      '(33 KEY_F; 0: none)', in_range(0, 767))
    rerecord_key_code: int = param(19, 'key code that discards the episode to record it again '
                                       '(19 KEY_R; 0: none)', in_range(0, 767))
    pause_toggle_key_code: int = param(25, 'key code that pauses the actor after this episode, '
                                           'or resumes it (25 KEY_P; 0: none)',
                                       in_range(0, 767))
    stdin_keys: bool = param(False, 'also read the operator keys below from the terminal (run '
                                    'the leader in a terminal of its own)')
    toggle_stdin_key: str = param(' ', 'character that toggles the intervention; empty: none')
    success_stdin_key: str = param('s', 'character that marks the episode a success')
    failure_stdin_key: str = param('f', 'character that ends the episode as a failure')
    rerecord_stdin_key: str = param('r', 'character that discards the episode to record it '
                                         'again')
    pause_toggle_stdin_key: str = param('p', 'character that pauses the actor after this '
                                             'episode, or resumes it')
    gripper_leader_rad: list = param([0.0, 1.0], 'two leader gripper positions ...',
                                     length(2))
    gripper_follower_rad: list = param([0.0, 1.0], '... and the follower gripper positions they '
                                                   'command (clipped to its limits)', length(2))
    telemetry_period_s: float = param(0.0, 'how often voltage, temperature and load are read '
                                           '(0: never)', non_negative)

    def __post_init__(self):
        self.device_keys()
        self.terminal_keys()

    def device_keys(self) -> Dict[int, str]:
        """key code on key_device -> action, for the keys that are bound (code != 0)."""
        return _bindings({a: getattr(self, f'{a}_key_code') for a in KEY_ACTIONS},
                         '_key_code', unbound=0)

    def terminal_keys(self) -> Dict[str, str]:
        """character on stdin -> action, for the keys that are bound (not empty)."""
        for action in KEY_ACTIONS:
            key = getattr(self, f'{action}_stdin_key')
            if len(key.encode()) > 1:
                raise ConfigError(f'{action}_stdin_key {key!r}: expected one ASCII character '
                                  f'or empty')
        return _bindings({a: getattr(self, f'{a}_stdin_key') for a in KEY_ACTIONS},
                         '_stdin_key', unbound='')


def _bindings(keys: Dict[str, object], suffix: str, unbound) -> Dict[object, str]:
    bindings = {}
    for action, key in keys.items():
        if key == unbound:
            continue
        if key in bindings:
            raise ConfigError(f'{action}{suffix} and {bindings[key]}{suffix} are both {key!r}; '
                              f'each operator key needs a key of its own')
        bindings[key] = action
    return bindings
