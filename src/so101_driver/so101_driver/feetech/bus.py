"""One Feetech serial bus through `scservo_sdk`: typed register access, bounded retries, counters.

Every transaction's outcome is counted (`BusCounters`) so the node can report bus health.
Transient faults (no reply, corrupt reply) are retried up to the caller's bound; a failing
port (device unplugged, I/O error) raises `PortGone` at once, since retrying a dead file
descriptor only wastes the cycle.
"""
import dataclasses
import termios
from typing import Dict, Iterable, Optional

import scservo_sdk as scs
from serial import SerialException

from so101_driver.feetech import registers as reg
from so101_driver.feetech.port import BusPortHandler

# What a vanished or failing serial device raises (termios.error from flushing a hung-up tty).
DEVICE_ERRORS = (SerialException, OSError, termios.error)

_PROTOCOL_END = 0  # STS series: little-endian words
_PKT_ID, _PKT_ERROR, _PKT_PARAMETER0 = 2, 4, 5  # status: FF FF id length error params... sum


class BusError(Exception):
    """A bus operation that did not succeed within its retries."""


class PortGone(BusError):
    """The serial device failed or vanished; the port must be reopened."""


@dataclasses.dataclass
class BusCounters:
    transactions: int = 0
    failures: int = 0       # failed transactions of any kind
    timeouts: int = 0       # "There is no status packet"
    corrupt: int = 0        # "Incorrect status packet" (checksum, truncated)
    other_failures: int = 0  # port busy, tx failure, ...
    port_errors: int = 0    # exceptions from the serial device itself
    retries: int = 0        # attempts beyond the first
    servo_alarms: int = 0   # status packets with an error bit (overload, overheat, voltage)
    last_error: str = ''


class FeetechBus:
    """A bus of STS3215 servos on one serial port."""

    def __init__(self, port: str, baudrate: int = 1_000_000, packet_timeout_ms: float = 10.0):
        self.port_name = port
        self.baudrate = baudrate
        self.packet_timeout_ms = packet_timeout_ms
        self.counters = BusCounters()
        self._port: Optional[BusPortHandler] = None
        self._packets = scs.PacketHandler(_PROTOCOL_END)

    # --- port ---------------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._port is not None

    def open(self) -> None:
        self.close()
        port = BusPortHandler(self.port_name, self.packet_timeout_ms)
        port.baudrate = self.baudrate
        try:
            opened = port.openPort()
        except DEVICE_ERRORS as error:
            raise PortGone(f'cannot open {self.port_name}: {error}') from None
        if not opened:
            raise PortGone(f'cannot open {self.port_name} at {self.baudrate} baud '
                           f'(unsupported baud rate?)')
        self._port = port

    def close(self) -> None:
        port, self._port = self._port, None
        if port is not None and port.ser is not None:
            try:
                port.closePort()
            except DEVICE_ERRORS:
                pass  # a vanished device cannot be closed any further

    # --- transactions -------------------------------------------------------------------------

    def ping(self, servo_id: int, attempts: int = 3) -> int:
        """The servo's model number; raises BusError if it never answers."""
        return self._retry(lambda: self._packets.ping(self._require_port(), servo_id),
                           attempts, f'ping servo {servo_id}')

    def read(self, register: reg.Register, servo_id: int, attempts: int = 3) -> int:
        raw = self.read_bytes(register.address, register.size, servo_id, attempts)
        return reg.decode(register, raw)

    def read_bytes(self, address: int, length: int, servo_id: int, attempts: int = 3) -> bytes:
        def transaction():
            data, result, error = self._packets.readTxRx(self._require_port(), servo_id,
                                                         address, length)
            if result == scs.COMM_SUCCESS and len(data) != length:
                # A late status packet of an earlier request from the same servo (say, a
                # write's acknowledgement) matched the id but carries no such data.
                result = scs.COMM_RX_CORRUPT
            return data, result, error
        data = self._retry(transaction, attempts,
                           f'read {length} bytes at {address} from servo {servo_id}')
        return bytes(data)

    def write(self, register: reg.Register, servo_id: int, value: int, attempts: int = 3) -> None:
        """Write and wait for the servo's acknowledgement."""
        data = list(reg.encode(register, value))
        self._retry(lambda: (None,) + self._packets.writeTxRx(
            self._require_port(), servo_id, register.address, register.size, data),
            attempts, f'write {register.name}={value} to servo {servo_id}')

    def sync_write(self, register: reg.Register, values: Dict[int, int]) -> None:
        """One broadcast packet; servos do not answer, so this cannot be confirmed or retried."""
        port = self._require_port()
        group = scs.GroupSyncWrite(port, self._packets, register.address, register.size)
        for servo_id, value in values.items():
            group.addParam(servo_id, list(reg.encode(register, value)))
        self._count(self._call(group.txPacket), 'sync write')

    def sync_read(self, address: int, length: int, servo_ids: Iterable[int],
                  attempts: int = 1) -> Dict[int, bytes]:
        """`length` bytes from `address` of each servo; the servos that did not answer within
        `attempts` transactions are missing from the result. Each retry asks only the missing."""
        missing = list(servo_ids)
        answers: Dict[int, bytes] = {}
        for attempt in range(attempts):
            if attempt:
                self.counters.retries += 1
            answers.update(self._sync_read_once(address, length, missing))
            missing = [i for i in missing if i not in answers]
            if not missing:
                break
        return answers

    # --- internals ----------------------------------------------------------------------------

    def _sync_read_once(self, address, length, servo_ids) -> Dict[int, bytes]:
        """One sync read: the request through the SDK's GroupSyncRead, the replies through its
        packet handler, matched by servo id as they come.

        GroupSyncRead.rxPacket waits for each servo in turn and gives up at the first lost or
        corrupt reply, discarding the good replies after it; here a bad reply costs only its
        own servo, so the retry asks for that one alone."""
        port = self._require_port()
        group = scs.GroupSyncRead(port, self._packets, address, length)
        for servo_id in servo_ids:
            group.addParam(servo_id)
        sent = self._call(group.txPacket)
        if not self._count(sent, 'sync read request'):
            return {}
        answers: Dict[int, bytes] = {}
        expected = set(servo_ids)
        # Each servo sends one reply; once as many (good or corrupt) have come, stop waiting.
        for _ in range(len(expected)):
            packet, result = self._call(lambda: self._packets.rxPacket(port))
            if result == scs.COMM_SUCCESS:
                servo_id, data = packet[_PKT_ID], bytes(packet[_PKT_PARAMETER0:-1])
                if packet[_PKT_ERROR]:  # overload, overheat, voltage: the data still counts
                    self._count(result, f'servo {servo_id}', packet[_PKT_ERROR], False)
                if servo_id in expected and len(data) == length:
                    answers[servo_id] = data
                    expected.discard(servo_id)
                continue
            self._count(result, f'sync read reply (waiting for servo(s) {sorted(expected)})',
                        new_transaction=False)
            if result != scs.COMM_RX_CORRUPT:
                break  # timed out: the missing replies are lost
        return answers

    def _retry(self, transaction, attempts: int, what: str):
        for attempt in range(max(1, attempts)):
            if attempt:
                self.counters.retries += 1
            value, result, error = self._call(transaction)
            if self._count(result, what, error):
                return value
        raise BusError(f'{what} failed after {attempts} attempt(s): {self.counters.last_error}')

    def _call(self, transaction):
        try:
            return transaction()
        except DEVICE_ERRORS as error:
            self.counters.port_errors += 1
            self.counters.failures += 1
            self.counters.last_error = f'{self.port_name}: {error}'
            if self._port is not None:
                self._port.is_using = False  # the SDK leaves its port "busy" after a raise
            raise PortGone(self.counters.last_error) from None

    def _count(self, result: int, what: str, error: int = 0, new_transaction: bool = True) -> bool:
        counters = self.counters
        counters.transactions += int(new_transaction)
        if result == scs.COMM_SUCCESS:
            if error:
                counters.servo_alarms += 1
                counters.last_error = f'{what}: {self._packets.getRxPacketError(error)}'
            return True
        counters.failures += 1
        if result == scs.COMM_RX_TIMEOUT:
            counters.timeouts += 1
        elif result == scs.COMM_RX_CORRUPT:
            counters.corrupt += 1
        else:
            counters.other_failures += 1
        counters.last_error = f'{what}: {self._packets.getTxRxResult(result)}'
        return False

    def _require_port(self) -> BusPortHandler:
        if self._port is None:
            raise PortGone(f'{self.port_name} is not open')
        return self._port
