"""The faults a real USB servo bus shows, injected by the emulated bus on requests and replies.

Requests can be lost or corrupted (the servos then ignore them), replies lost, corrupted, late
(past the driver's timeout, so they arrive while it waits for the next answer), duplicated or
carrying another servo's id with a valid checksum, and the whole bus can go deaf and mute for a
while (an adapter stall, a brown-out).
"""
import dataclasses
import random
from typing import List, Sequence, Tuple

from so101_driver.emulator import protocol

_PROBABILITIES = ('drop_request', 'corrupt_request', 'drop_reply', 'corrupt_reply',
                  'delay_reply', 'duplicate_reply', 'foreign_id')


@dataclasses.dataclass
class Faults:
    """Fault probabilities, per packet; change them at any time while the bus runs."""
    drop_reply: float = 0.0       # the reply never comes ("There is no status packet")
    corrupt_reply: float = 0.0    # the reply's checksum is wrong ("Incorrect status packet")
    delay_reply: float = 0.0      # the reply comes late by `delay_s` ...
    delay_s: float = 0.02
    delay_jitter_s: float = 0.0   # ... plus up to this much more, uniformly
    drop_request: float = 0.0     # the servos never receive the request
    corrupt_request: float = 0.0  # a byte of the request flips on the wire
    duplicate_reply: float = 0.0  # the reply comes twice ...
    duplicate_delay_s: float = 0.0  # ... the copy this long after the first (0: back to back)
    foreign_id: float = 0.0       # the reply carries another servo's id, checksum valid
    silences_per_s: float = 0.0   # bursts per second (at random times, however busy the bus)
    silence_s: float = 0.3        # ... each ignoring everything for this long

    def __post_init__(self):
        for name in _PROBABILITIES:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f'Faults.{name} = {value} is not a probability (0..1)')
        for name in ('delay_s', 'delay_jitter_s', 'duplicate_delay_s', 'silences_per_s',
                     'silence_s'):
            if getattr(self, name) < 0:
                raise ValueError(f'Faults.{name} = {getattr(self, name)} is negative')


@dataclasses.dataclass
class BusCounters:
    requests: int = 0            # instruction packets the servos received and executed
    replies: int = 0             # status packets sent
    dropped: int = 0             # replies lost
    corrupted: int = 0
    delayed: int = 0
    duplicated: int = 0
    foreign: int = 0             # replies sent with another servo's id
    dropped_requests: int = 0
    corrupted_requests: int = 0
    silences: int = 0            # bursts of silence started
    silenced_requests: int = 0   # requests ignored during a silence
    bad_request_bytes: int = 0
    unplugs: int = 0


class FaultInjector:
    """Draws the faults for each request and reply (seeded: a run can be repeated)."""

    def __init__(self, counters: BusCounters, seed: int = 0):
        self.counters = counters
        self.silent_until = 0.0
        self._next_silence = None  # when the next burst starts
        self._random = random.Random(seed)

    def request_bytes(self, faults: Faults, data: bytes) -> bytes:
        """The bytes as the servos receive them (the driver writes one request per write)."""
        if data and self._random.random() < faults.corrupt_request:
            self.counters.corrupted_requests += 1
            flipped = bytearray(data)
            flipped[self._random.randrange(len(flipped))] ^= 1 << self._random.randrange(8)
            return bytes(flipped)
        return data

    def admits(self, faults: Faults, now: float) -> bool:
        """Whether a well-formed request reaches the servos."""
        if now < self.silent_until:
            self.counters.silenced_requests += 1
            return False
        if self._silence_starts(faults, now):
            self.counters.silences += 1
            self.counters.silenced_requests += 1
            self.silent_until = now + faults.silence_s
            self._next_silence = None
            return False
        if self._random.random() < faults.drop_request:
            self.counters.dropped_requests += 1
            return False
        return True

    def _silence_starts(self, faults: Faults, now: float) -> bool:
        if faults.silences_per_s <= 0:
            self._next_silence = None
            return False
        if self._next_silence is None:
            self._next_silence = now + self._random.expovariate(faults.silences_per_s)
        return now >= self._next_silence

    def replies(self, faults: Faults, reply: bytes, servo_ids: Sequence[int],
                now: float) -> List[Tuple[float, bytes]]:
        """(send time, bytes) of what goes on the wire for one status packet."""
        draw = self._random.random
        if now < self.silent_until:
            return []
        if draw() < faults.drop_reply:
            self.counters.dropped += 1
            return []
        if draw() < faults.foreign_id:
            self.counters.foreign += 1
            reply = self._with_other_id(reply, servo_ids)
        if draw() < faults.corrupt_reply:
            self.counters.corrupted += 1
            reply = reply[:-1] + bytes([reply[-1] ^ 0x5A])
        send_at = now
        if draw() < faults.delay_reply:
            self.counters.delayed += 1
            send_at = now + faults.delay_s + faults.delay_jitter_s * draw()
        sent = [(send_at, reply)]
        if draw() < faults.duplicate_reply:
            self.counters.duplicated += 1
            sent.append((send_at + faults.duplicate_delay_s, reply))
        return sent

    def _with_other_id(self, reply: bytes, servo_ids: Sequence[int]) -> bytes:
        own = reply[2]
        others = [i for i in servo_ids if i != own] or [own ^ 1]
        body = bytes([self._random.choice(others)]) + reply[3:-1]
        return reply[:2] + body + bytes([protocol.checksum(body)])
