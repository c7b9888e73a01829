"""Feetech (SCS/STS) packet framing for the emulated servos: instruction packets in, status out.

Instruction: FF FF id length instruction params... checksum, length = len(params) + 2.
Status:      FF FF id length error params... checksum.
Checksum:    ~(id + length + instruction/error + params) & 0xFF.
"""
from typing import List, NamedTuple, Tuple

BROADCAST_ID = 0xFE
PING, READ, WRITE, REG_WRITE, ACTION = 0x01, 0x02, 0x03, 0x04, 0x05
SYNC_READ, SYNC_WRITE = 0x82, 0x83


class Instruction(NamedTuple):
    servo_id: int
    instruction: int
    params: bytes


def checksum(body) -> int:
    return ~sum(body) & 0xFF


def status_packet(servo_id: int, params: bytes = b'', error: int = 0) -> bytes:
    body = bytes([servo_id, len(params) + 2, error]) + bytes(params)
    return b'\xff\xff' + body + bytes([checksum(body)])


def instruction_packet(servo_id: int, instruction: int, params: bytes = b'') -> bytes:
    body = bytes([servo_id, len(params) + 2, instruction]) + bytes(params)
    return b'\xff\xff' + body + bytes([checksum(body)])


def parse(buffer: bytearray) -> Tuple[List[Instruction], int]:
    """Complete instruction packets at the front of `buffer`, and how many bad bytes were skipped.

    Consumes what it parsed (and any garbage) from `buffer`; a partial packet stays for later.
    """
    packets, skipped = [], 0
    while True:
        start = buffer.find(b'\xff\xff')
        if start < 0:
            keep = 1 if buffer.endswith(b'\xff') else 0
            skipped += len(buffer) - keep
            del buffer[:len(buffer) - keep]
            return packets, skipped
        skipped += start
        del buffer[:start]
        if len(buffer) < 4:
            return packets, skipped
        length = buffer[3]
        if buffer[2] == 0xFF or length < 2:  # a third 0xFF or an impossible length: resync
            del buffer[:1]
            skipped += 1
            continue
        total = length + 4
        if len(buffer) < total:
            return packets, skipped
        body = buffer[2:total - 1]
        if buffer[total - 1] != checksum(body):
            del buffer[:2]  # a corrupt request: servos stay silent, as real ones do
            skipped += 2
            continue
        packets.append(Instruction(body[0], body[2], bytes(body[3:])))
        del buffer[:total]
