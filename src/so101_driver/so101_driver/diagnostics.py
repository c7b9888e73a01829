"""An arm's health (arm/health.py) as one /diagnostics message, for the follower and leader nodes:
the bus status first, then a status per servo."""
from typing import Iterable

from diagnostic_msgs.msg import DiagnosticArray

from hilserl_common.diagnostics import status_array
from so101_driver.arm.health import Health


def health_array(stamp, role: str, hardware_id: str, health: Iterable[Health]) -> DiagnosticArray:
    array = DiagnosticArray()
    array.header.stamp = stamp
    array.status = [status_array(stamp, h.level, f'{role}: {h.name}', h.message, hardware_id,
                                 h.values).status[0] for h in health]
    return array
