"""An arm's bus health as a level, a message and key/value pairs (for /diagnostics)."""
import dataclasses
from typing import List, Optional, Tuple

from so101_driver.arm.servo_arm import ServoArm, Telemetry

OK, WARN, ERROR = 0, 1, 2


def arm_health(arm: ServoArm, telemetry: Optional[Telemetry] = None
               ) -> Tuple[int, str, List[Tuple[str, str]]]:
    counters = arm.counters
    if not arm.connected:
        level, message = ERROR, f'disconnected: {counters.last_problem or "not connected yet"}'
    elif counters.consecutive_failures:
        level, message = WARN, f'failing: {counters.last_problem}'
    else:
        level, message = OK, 'connected'
    values = [('port', arm.settings.port), ('connected', str(arm.connected)),
              ('torque_on', str(arm.torque_on)), ('torque_wanted', str(arm.torque_wanted))]
    values += [(f'arm.{k}', str(v)) for k, v in dataclasses.asdict(counters).items()]
    values += [(f'bus.{k}', str(v)) for k, v in dataclasses.asdict(arm.bus.counters).items()]
    if telemetry is not None:
        for kind, readings in zip(('voltage_v', 'temperature_c', 'load_percent'), telemetry):
            values += [(f'{name}.{kind}', f'{value:g}') for name, value in readings.items()]
    return level, message, values
