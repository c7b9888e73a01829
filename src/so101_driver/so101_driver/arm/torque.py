"""Torque on and off, each confirmed by reading the servos back.

An acknowledgement says little on a faulty bus: a late one of an earlier write looks the same,
and a broadcast has none. So both directions read the torque switch, the goal and the present
position back (`reads.HOLD`) and repeat what a servo has not taken.
- On: goal = present position on every servo, confirmed, before any servo gets torque (a stale
  goal would make the arm jump); then torque, confirmed with the goal still in place.
- Off: a broadcast, then individual writes to the servos that do not confirm, until every servo
  reads torque off or the time is up.
"""
import time
from typing import Callable, Dict, List, Sequence

from so101_driver.feetech import reads
from so101_driver.feetech import registers as reg
from so101_driver.feetech.bus import BusError, FeetechBus, PortGone

# A servo without torque can drift or be pushed while torque comes on; more than this between
# its goal and where it is, and the goal is taken again from a fresh reading.
HOLD_TOLERANCE_TICKS = 20
ROUNDS = 3


def hold_states(bus: FeetechBus, servo_ids: Sequence[int], attempts: int = 2
                ) -> Dict[int, Dict[str, int]]:
    """Torque switch, goal and present position of the servos that answered."""
    answers = bus.sync_read(reads.HOLD.address, reads.HOLD.length, servo_ids, attempts)
    return {i: {'torque': reads.HOLD.value(reg.TORQUE_ENABLE, data),
                'goal': reads.HOLD.value(reg.GOAL_POSITION, data),
                'present': reads.HOLD.value(reg.PRESENT_POSITION, data)}
            for i, data in answers.items()}


def torque_on(bus: FeetechBus, servo_ids: List[int],
              read_ticks: Callable[[], List[int]]) -> List[int]:
    """Hold every servo where it is, with torque; the ticks it holds. Raises BusError."""
    for _ in range(ROUNDS):
        ticks = dict(zip(servo_ids, read_ticks()))
        if _goals_confirmed(bus, ticks) and _torque_confirmed(bus, ticks):
            return [ticks[i] for i in servo_ids]
    raise BusError(f'torque on not confirmed by every servo in {ROUNDS} rounds: '
                   f'{bus.counters.last_error}')


def _goals_confirmed(bus: FeetechBus, ticks: Dict[int, int]) -> bool:
    for _ in range(ROUNDS):
        bus.sync_write(reg.GOAL_POSITION, ticks)
        states = hold_states(bus, list(ticks))
        if len(states) < len(ticks):
            continue
        if any(abs(s['present'] - ticks[i]) > HOLD_TOLERANCE_TICKS for i, s in states.items()):
            return False  # moved since it was read: read again
        if all(s['goal'] == ticks[i] for i, s in states.items()):
            return True
    return False


def _torque_confirmed(bus: FeetechBus, ticks: Dict[int, int]) -> bool:
    for _ in range(ROUNDS):
        bus.sync_write(reg.TORQUE_ENABLE, {i: 1 for i in ticks})
        states = hold_states(bus, list(ticks))
        if len(states) == len(ticks) and all(s['torque'] == 1 and s['goal'] == ticks[i]
                                             for i, s in states.items()):
            return True
    return False


def torque_off(bus: FeetechBus, servo_ids: Sequence[int], timeout_s: float,
               clock=time.monotonic) -> List[int]:
    """Switch torque off; the servos that did not confirm it within `timeout_s` (none: all off).
    A port that fails is reopened and the attempt goes on."""
    deadline = clock() + timeout_s
    unconfirmed = list(servo_ids)
    while True:
        try:
            if not bus.is_open:
                bus.open()
            unconfirmed = _switch_off_once(bus, unconfirmed)
        except PortGone:
            bus.close()
            time.sleep(0.05)  # a vanished device: give it a moment to come back
        except BusError:
            pass  # bytes that made no sense: the next round asks again
        if not unconfirmed or clock() >= deadline:
            return unconfirmed


def _switch_off_once(bus: FeetechBus, servo_ids: List[int]) -> List[int]:
    bus.sync_write(reg.TORQUE_ENABLE, {i: 0 for i in servo_ids})
    states = hold_states(bus, servo_ids)
    unconfirmed = [i for i in servo_ids if i not in states or states[i]['torque'] != 0]
    for servo_id in unconfirmed:  # a servo that missed the broadcast may hear its own packet
        try:
            bus.write(reg.TORQUE_ENABLE, servo_id, 0, attempts=1)
        except PortGone:
            raise
        except BusError:
            pass  # confirmed, or not, by the next round's read
    return unconfirmed
