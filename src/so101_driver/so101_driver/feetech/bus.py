"""One Feetech serial bus through `scservo_sdk`: typed register access, replies matched to their
requests, bounded retries, counters.

Every transaction's outcome is counted (`BusCounters`) so the node can report bus health.
Transient faults (no reply, corrupt reply, a reply that is not the answer to this request) are
retried up to the caller's bound; a failing port (device unplugged, I/O error) raises `PortGone`
at once, since retrying a dead file descriptor only wastes the cycle.

A reply is taken only from the servo asked and only with the length asked for (`reads.py` gives
each kind of read a length of its own); sync reads are matched reply by reply (`matching.py`).
Whatever the SDK raises on bytes it did not expect is a corrupt reply, and its "port in use" flag
is cleared however a transaction ends, an interrupt (Ctrl-C) in the middle of one included:
otherwise the torque-off on the way out would find the port busy.
"""
from typing import Callable, Dict, Iterable, List, Optional, Tuple

import scservo_sdk as scs

from so101_driver.feetech import registers as reg
from so101_driver.feetech.alarms import ServoAlarms
from so101_driver.feetech.errors import (  # noqa: F401 (BusError, PortGone: this module's API)
    BAD_BYTES_ERRORS,
    DEVICE_ERRORS,
    BusCounters,
    BusError,
    ImplausibleReading,
    NotTheAnswer,
    PortGone,
)
from so101_driver.feetech.matching import trusted_replies
from so101_driver.feetech.port import BusPortHandler

_PROTOCOL_END = 0  # STS series: little-endian words
_PKT_ID, _PKT_LENGTH, _PKT_ERROR, _PKT_PARAMETER0 = 2, 3, 4, 5  # FF FF id length error ... sum
_INST_READ = 0x02

Accept = Callable[[int, bytes], bool]  # (servo id, data) -> whether the reading is plausible


class FeetechBus:
    """A bus of STS3215 servos on one serial port."""

    def __init__(self, port: str, baudrate: int = 1_000_000, packet_timeout_ms: float = 10.0):
        self.port_name = port
        self.baudrate = baudrate
        self.packet_timeout_ms = packet_timeout_ms
        self.counters = BusCounters()
        self.alarms = ServoAlarms()
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

    def read_bytes(self, address: int, length: int, servo_id: int, attempts: int = 3,
                   accept: Optional[Accept] = None) -> bytes:
        """`length` bytes from `address` of one servo, from a reply of exactly that length."""
        def transaction():
            request = [0, 0, servo_id, 4, _INST_READ, address, length, 0]
            packet, result, error = self._packets.txRxPacket(self._require_port(), request)
            if result == scs.COMM_SUCCESS:
                data = self._data_of(packet, length)
                if accept is not None and not accept(servo_id, data):
                    raise ImplausibleReading(f'servo {servo_id} sent an implausible reading')
                self.alarms.record(servo_id, error)
                return data, result, error
            return None, result, error
        return self._retry(transaction, attempts,
                           f'read {length} bytes at {address} from servo {servo_id}')

    def write(self, register: reg.Register, servo_id: int, value: int, attempts: int = 3) -> None:
        """Write and wait for the servo's acknowledgement (a status packet without data; a late
        one of an earlier write looks the same, so writes that matter are read back)."""
        data = list(reg.encode(register, value))

        def transaction():
            request = [0, 0, servo_id, len(data) + 3, scs.INST_WRITE, register.address] + data
            packet, result, error = self._packets.txRxPacket(self._require_port(), request + [0])
            if result == scs.COMM_SUCCESS:
                self._data_of(packet, 0)
                self.alarms.record(servo_id, error)
            return None, result, error
        self._retry(transaction, attempts, f'write {register.name}={value} to servo {servo_id}')

    def sync_write(self, register: reg.Register, values: Dict[int, int]) -> None:
        """One broadcast packet; servos do not answer, so this cannot be confirmed or retried."""
        port = self._require_port()
        group = scs.GroupSyncWrite(port, self._packets, register.address, register.size)
        for servo_id, value in values.items():
            group.addParam(servo_id, list(reg.encode(register, value)))
        self._count(self._call(group.txPacket), 'sync write')

    def sync_read(self, address: int, length: int, servo_ids: Iterable[int], attempts: int = 1,
                  accept: Optional[Accept] = None) -> Dict[int, bytes]:
        """`length` bytes from `address` of each servo; the servos without a trusted, plausible
        answer within `attempts` transactions are missing. Each retry asks only the missing."""
        missing = list(servo_ids)
        answers: Dict[int, bytes] = {}
        for attempt in range(attempts):
            if attempt:
                self.counters.retries += 1
            for servo_id, data in self._sync_read_once(address, length, missing).items():
                if accept is None or accept(servo_id, data):
                    answers[servo_id] = data
                else:
                    self._fail(ImplausibleReading(f'servo {servo_id}: implausible reading'))
            missing = [i for i in missing if i not in answers]
            if not missing:
                break
        return answers

    # --- internals ----------------------------------------------------------------------------

    def _sync_read_once(self, address, length, servo_ids: List[int]) -> Dict[int, bytes]:
        """One sync read: the request through the SDK's GroupSyncRead, the replies through its
        packet handler, matched to the request as they come.

        GroupSyncRead.rxPacket waits for each servo in turn and gives up at the first lost or
        corrupt reply, discarding the good replies after it; here a bad reply costs only its
        own servo (and its neighbours, see matching.py), so the retry asks for those alone."""
        port = self._require_port()
        group = scs.GroupSyncRead(port, self._packets, address, length)
        for servo_id in servo_ids:
            group.addParam(servo_id)
        if not self._count(self._call(group.txPacket), 'sync read request'):
            return {}
        received, errors = self._collect_replies(port, length, servo_ids)
        answers, out_of_order = trusted_replies(servo_ids, received)
        if out_of_order:
            self._fail(NotTheAnswer(f'sync read of servo(s) {servo_ids}: replies out of turn '
                                     f'or twice'))
        for servo_id in answers:  # overload, overheat, voltage: the data still counts
            self.alarms.record(servo_id, errors[servo_id])
            if errors[servo_id]:
                self._count(scs.COMM_SUCCESS, f'servo {servo_id}', errors[servo_id], False)
        return answers

    def _collect_replies(self, port, length, servo_ids
                         ) -> Tuple[List[Tuple[int, bytes]], Dict[int, int]]:
        """Status packets of the right length from the servos asked (and their error bits),
        until each has answered (or a corrupt packet may have been its answer) or the request's
        deadline passes."""
        received: List[Tuple[int, bytes]] = []
        errors: Dict[int, int] = {}
        corrupt = 0
        while len(errors) + corrupt < len(servo_ids):
            try:
                packet, result = self._call(lambda: self._packets.rxPacket(port))
                data = self._data_of(packet, length) if result == scs.COMM_SUCCESS else b''
            except NotTheAnswer as problem:
                self._fail(problem)
                if port.isPacketTimeout():
                    break  # a stream of stray packets must not hold the cycle past its deadline
                continue
            if result == scs.COMM_SUCCESS:
                servo_id = packet[_PKT_ID]
                if servo_id not in servo_ids:
                    self._fail(NotTheAnswer(f'a reply from servo {servo_id}, not asked'))
                    if port.isPacketTimeout():
                        break
                    continue
                received.append((servo_id, data))
                errors[servo_id] = packet[_PKT_ERROR]
                continue
            waiting = sorted(set(servo_ids) - {i for i, _ in received})
            self._count(result, f'sync read reply (waiting for servo(s) {waiting})',
                        new_transaction=False)
            if result != scs.COMM_RX_CORRUPT:
                break  # timed out: the missing replies are lost
            corrupt += 1
        return received, errors

    def _data_of(self, packet, length: int) -> bytes:
        """The data of a status packet, if it has exactly `length` bytes of it."""
        if packet[_PKT_LENGTH] != length + 2 or len(packet) != length + 6:
            raise NotTheAnswer(f'a reply from servo {packet[_PKT_ID]} with '
                                f'{packet[_PKT_LENGTH] - 2} bytes of data, not {length}')
        return bytes(packet[_PKT_PARAMETER0:_PKT_PARAMETER0 + length])

    def _retry(self, transaction, attempts: int, what: str):
        for attempt in range(max(1, attempts)):
            if attempt:
                self.counters.retries += 1
            try:
                value, result, error = self._call(transaction)
            except NotTheAnswer as problem:
                self.counters.transactions += 1
                self._fail(type(problem)(f'{what}: {problem}'))
                continue
            if self._count(result, what, error):
                return value
        raise BusError(f'{what} failed after {attempts} attempt(s): {self.counters.last_error}')

    def _call(self, transaction):
        """Run one SDK transaction; whatever happens, the port is free for the next one."""
        try:
            return transaction()
        except DEVICE_ERRORS as error:
            self.counters.port_errors += 1
            self.counters.failures += 1
            self.counters.last_error = f'{self.port_name}: {error}'
            raise PortGone(self.counters.last_error) from None
        except BAD_BYTES_ERRORS as error:
            raise NotTheAnswer(f'unexpected bytes ({type(error).__name__}: {error})') from None
        finally:
            if self._port is not None:
                self._port.is_using = False

    def _fail(self, problem: 'NotTheAnswer'):
        self.counters.failures += 1
        setattr(self.counters, problem.counter, getattr(self.counters, problem.counter) + 1)
        self.counters.last_error = str(problem)

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
