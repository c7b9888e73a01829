"""An arm's health for /diagnostics: the bus as a level, a message and key/value pairs, and each
servo's error bits (overload, overheat, voltage, ...) as a status of its own."""
import dataclasses
from typing import List, NamedTuple, Optional, Tuple

from so101_driver.arm.servo_arm import ServoArm, Telemetry
from so101_driver.feetech.alarms import describe

OK, WARN, ERROR = 0, 1, 2


class Health(NamedTuple):
    level: int
    name: str        # what it is about, e.g. 'feetech bus' or 'servo 6 (gripper)'
    message: str
    values: List[Tuple[str, str]]


def arm_health(arm: ServoArm, telemetry: Optional[Telemetry] = None) -> List[Health]:
    """The bus first, then one entry per servo."""
    servos = servo_health(arm)
    return [_bus_health(arm, telemetry, servos)] + servos


def servo_health(arm: ServoArm) -> List[Health]:
    alarms = arm.bus.alarms
    health = []
    for servo_id, name in arm.names_by_id.items():
        bits = alarms.bits.get(servo_id, 0)
        message, serious = describe(bits)
        level = ERROR if serious else WARN if bits else OK
        health.append(Health(level, f'servo {servo_id} ({name})', message, [
            ('error_bits', f'0x{bits:02x}'),
            ('packets_with_error_bits', str(alarms.packets.get(servo_id, 0)))]))
    return health


def _bus_health(arm: ServoArm, telemetry: Optional[Telemetry], servos: List[Health]) -> Health:
    counters = arm.counters
    if not arm.connected:
        level, message = ERROR, f'disconnected: {counters.last_problem or "not connected yet"}'
    elif counters.consecutive_failures:
        level, message = WARN, f'failing: {counters.last_problem}'
    else:
        level, message = OK, 'connected'
    alarmed = [s for s in servos if s.level > OK]
    if alarmed:
        level = max([level] + [s.level for s in alarmed])
        message += '; ' + '; '.join(f'{s.name}: {s.message}' for s in alarmed)
    values = [('port', arm.settings.port), ('connected', str(arm.connected)),
              ('torque_on', str(arm.torque_on)), ('torque_wanted', str(arm.torque_wanted))]
    values += [(f'arm.{k}', str(v)) for k, v in dataclasses.asdict(counters).items()]
    values += [(f'bus.{k}', str(v)) for k, v in dataclasses.asdict(arm.bus.counters).items()]
    if telemetry is not None:
        for kind, readings in zip(('voltage_v', 'temperature_c', 'load_percent'), telemetry):
            values += [(f'{name}.{kind}', f'{value:g}') for name, value in readings.items()]
    return Health(level, 'feetech bus', message, values)
