"""The emulated bus device: a pseudo-terminal behind a stable path, served by a thread.

The driver opens `link_path` (a symlink to the pty's slave side, like a udev alias such as
/dev/so101_follower) with pyserial, exactly as it opens the real USB adapter. Unplugging closes
the pty and removes the link, so the driver sees the same errors as a yanked USB cable: failed
reads/writes on the open port, then "no such file" until the device is back.
"""
import heapq
import os
import select
import threading
import time
import tty
from typing import Dict, Iterable, List, NamedTuple, Optional

from so101_driver.emulator import protocol
from so101_driver.emulator.faults import BusCounters, FaultInjector, Faults
from so101_driver.emulator.servo import EmulatedServo

__all__ = ['BusCounters', 'EmulatedBus', 'Faults', 'WriteRecord']

# A servo forgets a packet whose bytes stop coming; without that, one corrupted length byte
# would make it swallow the requests after it as the rest of that packet.
PARTIAL_PACKET_TIMEOUT_S = 0.002


class WriteRecord(NamedTuple):
    time: float        # time.monotonic() when the emulator applied it
    servo_id: int
    address: int
    data: bytes
    instruction: str   # 'write' or 'sync_write'


class EmulatedBus:
    """A chain of emulated servos on a pty; `start()` it, point the driver at `link_path`."""

    def __init__(self, link_path: str, servos: Iterable[EmulatedServo],
                 faults: Optional[Faults] = None, seed: int = 0):
        self.link_path = str(link_path)
        self.servos: Dict[int, EmulatedServo] = {s.servo_id: s for s in servos}
        self.faults = faults or Faults()
        self.counters = BusCounters()
        self._injector = FaultInjector(self.counters, seed)
        self._writes: List[WriteRecord] = []
        self._writes_lock = threading.Lock()
        self._master: Optional[int] = None
        self._slave: Optional[int] = None
        self._pending = []  # heap of (send_time, sequence, bytes): late replies
        self._last_bytes = 0.0  # when request bytes last came
        self._sequence = 0
        self._commands: List[str] = []
        self._command_done = threading.Condition()
        self._wake_r, self._wake_w = os.pipe()
        self._stopping = False  # set by the serving thread itself, on a 'stop' command
        self._thread: Optional[threading.Thread] = None

    # --- life cycle ---------------------------------------------------------------------------

    def start(self) -> 'EmulatedBus':
        if self._thread is not None:
            return self  # one serving thread per bus, however often it is entered
        self._plug()
        self._thread = threading.Thread(target=self._serve, name='emulated-feetech-bus',
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._run_command('stop')
            self._thread.join(timeout=5)
        else:
            self._unplug()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- faults -------------------------------------------------------------------------------

    def unplug(self) -> None:
        """The device vanishes (USB cable pulled); returns once it is gone."""
        self._run_command('unplug')

    def plug(self, power_cycled: bool = False) -> None:
        """The device comes back; with `power_cycled` the servos lost power too (torque off)."""
        if power_cycled:
            for servo in self.servos.values():
                servo.power_cycle()
        self._run_command('plug')

    def go_silent(self, seconds: float) -> None:
        """From now on, for `seconds`, the servos neither hear requests nor send replies."""
        self._injector.silent_until = time.monotonic() + seconds

    @property
    def plugged(self) -> bool:
        return self._master is not None

    # --- observation --------------------------------------------------------------------------

    def writes(self, address: Optional[int] = None, since: float = 0.0) -> List[WriteRecord]:
        """Every register write the servos received (optionally to one address, after a time)."""
        with self._writes_lock:
            return [w for w in self._writes
                    if (address is None or w.address == address) and w.time >= since]

    # --- serving ------------------------------------------------------------------------------

    def _run_command(self, command: str) -> None:
        with self._command_done:
            self._commands.append(command)
            os.write(self._wake_w, b'x')
            if not self._command_done.wait_for(lambda: command not in self._commands, timeout=5):
                raise TimeoutError(f'emulated bus did not {command} within 5 s')

    def _plug(self):
        if self._master is not None:
            return
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no newline translation, before anyone opens it
        os.set_blocking(master, False)  # a reader that went away must never stall the thread
        self._master, self._slave = master, slave
        temporary = self.link_path + '.new'
        if os.path.lexists(temporary):
            os.unlink(temporary)
        os.symlink(os.ttyname(slave), temporary)
        os.replace(temporary, self.link_path)

    def _unplug(self):
        if os.path.lexists(self.link_path):
            os.unlink(self.link_path)
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        if self._master is not None:
            self.counters.unplugs += 1
        self._master = self._slave = None
        self._pending.clear()

    def _serve(self):
        buffer = bytearray()
        while not self._stopping:
            timeout = 0.1
            if self._pending:
                timeout = max(0.0, min(timeout, self._pending[0][0] - time.monotonic()))
            watched = [self._wake_r] + ([self._master] if self._master is not None else [])
            readable, _, _ = select.select(watched, [], [], timeout)
            if self._wake_r in readable:
                os.read(self._wake_r, 64)
                self._apply_commands()
                buffer.clear()
            if self._master is not None and self._master in readable:
                self._receive(buffer)
                packets, skipped = protocol.parse(buffer)
                self.counters.bad_request_bytes += skipped
                for packet in packets:
                    self._handle(packet)
            self._send_due()

    def _receive(self, buffer: bytearray):
        try:
            data = os.read(self._master, 4096)
        except (BlockingIOError, InterruptedError):
            return  # select saw a state change (the driver opened or closed), not data
        now = time.monotonic()
        if buffer and now - self._last_bytes > PARTIAL_PACKET_TIMEOUT_S:
            self.counters.bad_request_bytes += len(buffer)
            buffer.clear()
        self._last_bytes = now
        buffer += self._injector.request_bytes(self.faults, data)

    def _apply_commands(self):
        with self._command_done:
            for command in self._commands:
                if command == 'plug':
                    self._plug()
                else:
                    self._unplug()
                self._stopping = command == 'stop'
            self._commands.clear()
            self._command_done.notify_all()

    def _handle(self, packet: protocol.Instruction):
        if not self._injector.admits(self.faults, time.monotonic()):
            return
        self.counters.requests += 1
        for reply in self._execute(packet):
            self._reply(reply)

    def _execute(self, packet: protocol.Instruction) -> List[bytes]:
        servo_id, instruction, params = packet
        if servo_id == protocol.BROADCAST_ID:
            if instruction == protocol.SYNC_WRITE:
                self._sync_write(params)
            elif instruction == protocol.SYNC_READ:
                return self._sync_read(params)
            elif instruction == protocol.WRITE:
                for servo in self.servos.values():
                    self._write(servo, params[0], params[1:], 'write')
            return []
        servo = self.servos.get(servo_id)
        if servo is None:
            return []  # nobody with that id on the chain: silence
        if instruction == protocol.PING:
            return [protocol.status_packet(servo_id, error=servo.alarm)]
        if instruction == protocol.READ and len(params) == 2:
            return [protocol.status_packet(servo_id, servo.read(params[0], params[1]),
                                           servo.alarm)]
        if instruction == protocol.WRITE and len(params) >= 2:
            self._write(servo, params[0], params[1:], 'write')
            silent = servo.read(8, 1)[0] == 0  # Response_Status_Level 0: reply to reads only
            return [] if silent else [protocol.status_packet(servo_id, error=servo.alarm)]
        return []

    def _sync_write(self, params: bytes):
        address, length = params[0], params[1]
        for offset in range(2, len(params) - length, length + 1):
            servo = self.servos.get(params[offset])
            if servo is not None:
                self._write(servo, address, params[offset + 1:offset + 1 + length], 'sync_write')

    def _sync_read(self, params: bytes) -> List[bytes]:
        address, length = params[0], params[1]
        return [protocol.status_packet(i, self.servos[i].read(address, length),
                                       self.servos[i].alarm)
                for i in params[2:] if i in self.servos]

    def _write(self, servo: EmulatedServo, address: int, data: bytes, instruction: str):
        servo.write(address, data)
        with self._writes_lock:
            self._writes.append(WriteRecord(time.monotonic(), servo.servo_id, address,
                                            bytes(data), instruction))

    def _reply(self, reply: bytes):
        now = time.monotonic()
        for send_at, data in self._injector.replies(self.faults, reply, list(self.servos), now):
            if send_at <= now:
                self._send(data)
            else:
                self._sequence += 1
                heapq.heappush(self._pending, (send_at, self._sequence, data))

    def _send_due(self):
        now = time.monotonic()
        while self._pending and self._pending[0][0] <= now:
            late = heapq.heappop(self._pending)[2]
            if now >= self._injector.silent_until:  # a silence swallows late replies too
                self._send(late)

    def _send(self, data: bytes):
        if self._master is None:
            return
        self.counters.replies += 1
        try:
            os.write(self._master, data)
        except OSError:
            pass  # nobody has the port open: the bytes fall on the floor, as on a real wire
