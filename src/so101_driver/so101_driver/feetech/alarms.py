"""The error bits an STS3215 sets in every status packet, in words, and how serious each is.

Overload, overheat and over-current make the servo protect itself by dropping its torque, so the
arm no longer holds: those are errors. A voltage outside the configured range or a failing angle
sensor are warnings: the servo still moves, but the reading or the supply is suspect.
"""
from typing import Dict, List, Tuple

VOLTAGE, ANGLE_SENSOR, OVERHEAT, OVER_CURRENT, OVERLOAD = 0x01, 0x02, 0x04, 0x08, 0x20
_NAMES = ((OVERLOAD, 'overload', True), (OVERHEAT, 'overheat', True),
          (OVER_CURRENT, 'over-current', True), (VOLTAGE, 'input voltage out of range', False),
          (ANGLE_SENSOR, 'angle sensor fault', False))


def describe(bits: int) -> Tuple[str, bool]:
    """The error bits in words ('ok' when none), and whether any of them is serious."""
    words: List[str] = [name for bit, name, _ in _NAMES if bits & bit]
    unknown = bits & ~sum(bit for bit, _, _ in _NAMES)
    if unknown:
        words.append(f'unknown error bits 0x{unknown:02x}')
    serious = any(bits & bit for bit, _, severe in _NAMES if severe)
    return (', '.join(words) or 'ok'), serious


class ServoAlarms:
    """Per servo: the error bits of its latest status packet, and how many packets had any."""

    def __init__(self):
        self.bits: Dict[int, int] = {}
        self.packets: Dict[int, int] = {}

    def record(self, servo_id: int, bits: int) -> None:
        self.bits[servo_id] = bits
        if bits:
            self.packets[servo_id] = self.packets.get(servo_id, 0) + 1

    def total(self) -> int:
        return sum(self.packets.values())
