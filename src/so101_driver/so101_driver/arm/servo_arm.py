"""A calibrated arm on one Feetech bus that keeps working through a flaky USB link.

Each control cycle reads every joint with bounded retries. After `failures_before_reconnect`
failed cycles in a row, or at once when the serial device itself fails, the port is closed;
reconnection is tried every `reconnect_interval_s`: open, ping and check every servo's model,
check its calibration registers against the file, re-apply the motor setup, and put torque back
the way the user last asked (goal = present position first, so nothing jumps).
"""
import dataclasses
import time
from typing import Dict, List, NamedTuple, Optional, Tuple

import numpy as np

from so101_driver.arm.motor_setup import MotorSetup
from so101_driver.calibration import JointMap, MotorCalibration
from so101_driver.feetech import registers as reg
from so101_driver.feetech.bus import BusError, FeetechBus, PortGone


class ArmSetupError(BusError):
    """The servos on the bus are not the calibrated arm (wrong model, id, calibration)."""


@dataclasses.dataclass(frozen=True)
class BusSettings:
    port: str
    baudrate: int = 1_000_000
    packet_timeout_ms: float = 10.0
    attempts_per_cycle: int = 3
    failures_before_reconnect: int = 5
    reconnect_interval_s: float = 0.25
    verify_calibration: bool = True


class ArmState(NamedTuple):
    position: np.ndarray      # rad, in joint order
    velocity: np.ndarray      # rad/s
    fresh_connection: bool    # first state after (re)connecting: goals restart from here


@dataclasses.dataclass
class ArmCounters:
    cycles: int = 0
    failed_cycles: int = 0
    consecutive_failures: int = 0
    connects: int = 0           # successful connections, the first one included
    connect_failures: int = 0
    disconnects: int = 0
    last_problem: str = ''


class Telemetry(NamedTuple):
    voltage_v: Dict[str, float]
    temperature_c: Dict[str, float]
    load_percent: Dict[str, float]


class ServoArm:
    def __init__(self, settings: BusSettings, joint_map: JointMap,
                 calibration: Dict[str, MotorCalibration], setup: MotorSetup,
                 clock=time.monotonic):
        self.settings = settings
        self.joint_map = joint_map
        self.calibration = calibration
        self.setup = setup
        self.bus = FeetechBus(settings.port, settings.baudrate, settings.packet_timeout_ms)
        self.counters = ArmCounters()
        self.torque_wanted = False
        self.torque_on = False
        self.position: Optional[np.ndarray] = None  # last joints read, rad
        self._clock = clock
        self._next_connect = 0.0
        self._names = list(joint_map.joint_names)
        self._ids = list(joint_map.servo_ids)

    @property
    def connected(self) -> bool:
        return self.bus.is_open

    # --- cycle --------------------------------------------------------------------------------

    def read(self) -> Optional[ArmState]:
        """The joints now, or None this cycle (counted; reconnection handled here)."""
        self.counters.cycles += 1
        fresh = False
        if not self.connected:
            fresh = self._try_connect()
            if not fresh:
                self.counters.failed_cycles += 1
                return None
        try:
            answers = self.bus.sync_read(reg.PRESENT_POSITION.address,
                                         reg.span(reg.PRESENT_POSITION, reg.PRESENT_VELOCITY),
                                         self._ids, self.settings.attempts_per_cycle)
        except PortGone as error:
            self._disconnect(str(error))
            self.counters.failed_cycles += 1
            return None
        if len(answers) < len(self._ids):
            self._cycle_failed(f'no answer from servo(s) '
                               f'{[i for i in self._ids if i not in answers]}')
            return None
        self.counters.consecutive_failures = 0
        ticks = [reg.decode(reg.PRESENT_POSITION, answers[i]) for i in self._ids]
        speeds = [reg.decode(reg.PRESENT_VELOCITY, answers[i][2:]) for i in self._ids]
        self.position = self.joint_map.to_radians(ticks)
        return ArmState(self.position, self.joint_map.velocity_to_radians(speeds), fresh)

    def write_goals(self, radians) -> bool:
        """Send goals (already limited by the caller; clipped to the calibrated range again)."""
        if not self.connected or not self.torque_on:
            return False
        ticks = self.joint_map.to_ticks(self.joint_map.clip(radians))
        try:
            self.bus.sync_write(reg.GOAL_POSITION, dict(zip(self._ids, ticks.tolist())))
        except PortGone as error:
            self._disconnect(str(error))
            return False
        return True

    def read_telemetry(self) -> Optional[Telemetry]:
        """Load, voltage and temperature of the servos that answer (one attempt, best effort)."""
        if not self.connected:
            return None
        try:
            answers = self.bus.sync_read(reg.PRESENT_LOAD.address,
                                         reg.span(reg.PRESENT_LOAD, reg.PRESENT_TEMPERATURE),
                                         self._ids)
        except PortGone as error:
            self._disconnect(str(error))
            return None
        named = {name: answers[i] for i, name in zip(self._ids, self._names) if i in answers}
        return Telemetry(
            {n: reg.decode(reg.PRESENT_VOLTAGE, a[2:]) / 10 for n, a in named.items()},
            {n: float(reg.decode(reg.PRESENT_TEMPERATURE, a[3:])) for n, a in named.items()},
            {n: reg.decode(reg.PRESENT_LOAD, a) / 10 for n, a in named.items()})

    # --- torque -------------------------------------------------------------------------------

    def set_torque(self, enabled: bool) -> Tuple[bool, str]:
        """Ask for torque on/off; remembered and re-applied after every reconnection."""
        self.torque_wanted = enabled
        if not self.connected:
            return False, f'{self.settings.port} is not connected; torque ' \
                          f'{"on" if enabled else "off"} will be applied when it is'
        try:
            self._apply_torque()
        except BusError as error:
            self._disconnect(f'torque {"on" if enabled else "off"} failed: {error}')
            return False, self.counters.last_problem
        return True, f'torque {"on" if enabled else "off"}'

    def shutdown(self) -> bool:
        """Torque off on every servo (reopening the port once if needed), then close.

        Never raises: it runs on the way out of the process, whatever went wrong before."""
        self.torque_wanted = False
        try:
            if not self.connected:
                self.bus.open()
            self._torque_off()
            return True
        except BusError as error:
            self.counters.last_problem = f'torque off at shutdown failed: {error}'
            return False
        finally:
            self.bus.close()

    def _apply_torque(self):
        if self.torque_wanted:
            self._torque_on()
        else:
            self._torque_off()

    def _torque_on(self):
        # Goal = present position, confirmed servo by servo, before any servo gets torque:
        # a stale goal register would make the arm jump.
        ticks = self._read_ticks_strict()
        for servo_id, tick in zip(self._ids, ticks):
            self.bus.write(reg.GOAL_POSITION, servo_id, tick)
        for servo_id in self._ids:
            self.bus.write(reg.TORQUE_ENABLE, servo_id, 1)
        self.position = self.joint_map.to_radians(ticks)
        self.torque_on = True

    def _torque_off(self):
        # The broadcast reaches every servo at once; the confirmed writes make sure of it.
        self.torque_on = False
        self.bus.sync_write(reg.TORQUE_ENABLE, {i: 0 for i in self._ids})
        for servo_id in self._ids:
            self.bus.write(reg.TORQUE_ENABLE, servo_id, 0, attempts=5)

    # --- connection ---------------------------------------------------------------------------

    def _try_connect(self) -> bool:
        now = self._clock()
        if now < self._next_connect:
            return False
        self._next_connect = now + self.settings.reconnect_interval_s
        try:
            self.bus.open()
            self._check_servos()
            self._apply_setup()
            self._apply_torque()
        except BusError as error:
            self.bus.close()
            self.torque_on = False
            self.counters.connect_failures += 1
            self.counters.last_problem = f'connecting to {self.settings.port}: {error}'
            return False
        self.counters.connects += 1
        self.counters.consecutive_failures = 0
        return True

    def _disconnect(self, reason: str):
        self.bus.close()
        self.torque_on = False
        self.counters.disconnects += 1
        self.counters.last_problem = reason
        self._next_connect = self._clock()  # try again at once: a glitch may already be over

    def _cycle_failed(self, reason: str):
        self.counters.failed_cycles += 1
        self.counters.consecutive_failures += 1
        self.counters.last_problem = reason
        if self.counters.consecutive_failures >= self.settings.failures_before_reconnect:
            self._disconnect(f'{self.counters.consecutive_failures} failed cycles in a row '
                             f'({reason}); reconnecting')

    def _check_servos(self):
        for name, servo_id in zip(self._names, self._ids):
            try:
                model = self.bus.ping(servo_id)
            except PortGone:
                raise
            except BusError:
                raise ArmSetupError(f'servo {servo_id} ({name}) does not answer') from None
            if model != reg.STS3215_MODEL_NUMBER:
                raise ArmSetupError(f'servo {servo_id} ({name}) is model {model}, expected '
                                    f'STS3215 ({reg.STS3215_MODEL_NUMBER})')
            if self.settings.verify_calibration:
                self._check_calibration(name, servo_id)

    def _check_calibration(self, name: str, servo_id: int):
        # LeRobot writes these three registers when it calibrates; if they differ from the file,
        # the positions read would not mean what the file says.
        expected = self.calibration[name]
        for register, value in ((reg.HOMING_OFFSET, expected.homing_offset),
                                (reg.MIN_POSITION_LIMIT, expected.range_min),
                                (reg.MAX_POSITION_LIMIT, expected.range_max)):
            actual = self.bus.read(register, servo_id)
            if actual != value:
                raise ArmSetupError(
                    f'servo {servo_id} ({name}): {register.name} is {actual} but the calibration '
                    f'file says {value}; recalibrate this arm (lerobot-calibrate) or use its file')

    def _apply_setup(self):
        for name, servo_id in zip(self._names, self._ids):
            for register, value in self.setup.settings_for(name):
                if self.bus.read(register, servo_id) != value:
                    self.bus.write(register, servo_id, value)

    def _read_ticks_strict(self) -> List[int]:
        answers = self.bus.sync_read(reg.PRESENT_POSITION.address, reg.PRESENT_POSITION.size,
                                     self._ids, attempts=5)
        missing = [i for i in self._ids if i not in answers]
        if missing:
            raise BusError(f'no position from servo(s) {missing}')
        return [reg.decode(reg.PRESENT_POSITION, answers[i]) for i in self._ids]
