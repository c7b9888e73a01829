"""The kinds of reads the drivers make, each of a length no other kind has.

A status packet carries the servo's id and its data, not the address that was asked for; a
reply that comes late, while the driver waits for the answer to its next request, is therefore
only recognisable by its length. With one length per kind, a late telemetry reply can never be
read as positions, nor a late acknowledgement as data (`FeetechBus` takes a reply only if it has
the length asked for).
"""
from typing import NamedTuple

from so101_driver.feetech import registers as reg


class Span(NamedTuple):
    name: str
    address: int
    length: int

    def value(self, register: reg.Register, data: bytes) -> int:
        """`register`, decoded from the bytes of this span."""
        offset = register.address - self.address
        if offset < 0 or offset + register.size > self.length:
            raise ValueError(f'{register.name} is not inside the {self.name} span')
        return reg.decode(register, data[offset:offset + register.size])


def _span(name: str, first: reg.Register, last: reg.Register) -> Span:
    return Span(name, first.address, reg.span(first, last))


# Every cycle: where each joint is and how fast it turns.
POSITION = _span('position', reg.PRESENT_POSITION, reg.PRESENT_VELOCITY)
# Identity, calibration and setup registers, read once per servo when connecting; the servo's
# own ID register inside it tells a reply of another servo from its own.
CONNECTION = _span('connection', reg.MODEL_NUMBER, reg.ACCELERATION)
# Torque switch and goal beside the present position: what torque on and off confirm.
HOLD = _span('hold', reg.TORQUE_ENABLE, reg.PRESENT_POSITION)
# Load, voltage, temperature (and the status and motion flags after them).
TELEMETRY = _span('telemetry', reg.PRESENT_LOAD, reg.MOVING)

SPANS = (POSITION, CONNECTION, HOLD, TELEMETRY)
# Registers read on their own (outside every span) are 1 or 2 bytes long, acknowledgements 0.
assert len({s.length for s in SPANS} | {0, 1, 2}) == len(SPANS) + 3, 'span lengths must differ'
