"""A calibrated arm on one Feetech bus that keeps working through a flaky USB link.

Each control cycle reads every joint with bounded retries, and keeps only readings the servo can
have given (`plausibility.py`). After `failures_before_reconnect` failed cycles in a row the arm
is checked again on the open port, at every cycle until it answers (a silent bus costs no more
than its silence); when the serial device itself fails the port is closed and reopened every
`reconnect_interval_s`. Connecting means: every servo's model and calibration registers checked
against the file, the motor setup applied and read back, and torque put back the way the user
last asked (goal = present position first, so nothing jumps; `torque.py`).
"""
import dataclasses
import math
import time
from typing import Dict, List, NamedTuple, Optional, Tuple

import numpy as np

from so101_driver.arm import connection, torque
from so101_driver.arm.connection import ArmSetupError  # noqa: F401 (part of this module's API)
from so101_driver.arm.motor_setup import MotorSetup
from so101_driver.arm.plausibility import PlausibilityFilter
from so101_driver.calibration import JointMap, MotorCalibration
from so101_driver.feetech import reads
from so101_driver.feetech import registers as reg
from so101_driver.feetech.bus import BusError, FeetechBus, PortGone

# A port that stays open while the arm does not answer for this long is reopened (an adapter
# can hang without vanishing).
REOPEN_AFTER_S = 2.0


@dataclasses.dataclass(frozen=True)
class BusSettings:
    port: str
    baudrate: int = 1_000_000
    packet_timeout_ms: float = 10.0
    attempts_per_cycle: int = 4
    failures_before_reconnect: int = 5
    reconnect_interval_s: float = 0.25
    verify_calibration: bool = True
    max_servo_speed_rad_s: float = 12.0
    torque_off_timeout_s: float = 2.0


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
    disconnects: int = 0        # the arm lost (port failed, or too many failed cycles)
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
        self.position: Optional[np.ndarray] = None  # last plausible joints read, rad
        self.telemetry = Telemetry({}, {}, {})
        self.plausibility = PlausibilityFilter(
            joint_map.range_min, joint_map.range_max,
            settings.max_servo_speed_rad_s * reg.TICKS_PER_TURN / (2 * math.pi))
        self._clock = clock
        self._checked = False  # the servos on the open port are known to be this arm, set up
        self._fresh = False  # connected since the last state returned
        self._next_connect = 0.0
        self._unchecked_since: Optional[float] = None
        self._names = list(joint_map.joint_names)
        self._ids = list(joint_map.servo_ids)
        self._joint = {servo_id: k for k, servo_id in enumerate(self._ids)}

    @property
    def connected(self) -> bool:
        return self.bus.is_open and self._checked

    @property
    def names_by_id(self) -> Dict[int, str]:
        return dict(zip(self._ids, self._names))

    # --- cycle --------------------------------------------------------------------------------

    def read(self) -> Optional[ArmState]:
        """The joints now, or None this cycle (counted; reconnection handled here)."""
        self.counters.cycles += 1
        if not self.connected and not self._try_connect():
            self.counters.failed_cycles += 1
            return None
        try:
            answers = self._read_positions(self.settings.attempts_per_cycle)
        except PortGone as error:
            self._disconnect(str(error))
            self.counters.failed_cycles += 1
            return None
        except BusError as error:  # bytes that made no sense even to send: a failed cycle
            answers = {}
            self.counters.last_problem = str(error)
        if len(answers) < len(self._ids):
            self._cycle_failed(f'no plausible answer from servo(s) '
                               f'{[i for i in self._ids if i not in answers]}: '
                               f'{self.bus.counters.last_error}')
            return None
        self.counters.consecutive_failures = 0
        ticks = [reads.POSITION.value(reg.PRESENT_POSITION, answers[i]) for i in self._ids]
        speeds = [reads.POSITION.value(reg.PRESENT_VELOCITY, answers[i]) for i in self._ids]
        self._use(ticks)
        # Fresh until a state goes out: the caller restarts its goals from it.
        fresh, self._fresh = self._fresh, False
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
        except BusError:
            return False
        return True

    def read_telemetry(self) -> Optional[Telemetry]:
        """Load, voltage and temperature (best effort: a servo that does not answer keeps its
        last values)."""
        if not self.connected:
            return None
        span = reads.TELEMETRY
        try:
            answers = self.bus.sync_read(span.address, span.length, self._ids, attempts=2)
        except PortGone as error:
            self._disconnect(str(error))
            return None
        except BusError:
            return self.telemetry
        for servo_id, data in answers.items():
            name = self.names_by_id[servo_id]
            self.telemetry.voltage_v[name] = span.value(reg.PRESENT_VOLTAGE, data) / 10
            self.telemetry.temperature_c[name] = float(span.value(reg.PRESENT_TEMPERATURE, data))
            self.telemetry.load_percent[name] = span.value(reg.PRESENT_LOAD, data) / 10
        return self.telemetry

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

    def shutdown_and_report(self, node: str, summary: str = '') -> bool:
        """`shutdown()`, then one line on stdout, the last a user sees of a driver: whether every
        servo confirmed its torque off. False (the node then exits non-zero) if not."""
        confirmed = self.shutdown()
        detail = f'; {summary}' if summary else ''
        if confirmed:
            print(f'[{node}] torque off at shutdown{detail}; confirmed by every servo', flush=True)
        else:
            print(f'[{node}] torque OFF NOT CONFIRMED at shutdown: {self.counters.last_problem}'
                  f'{detail}', flush=True)
        return confirmed

    def shutdown(self) -> bool:
        """Torque off on every servo, confirmed by reading it back (reopening the port if
        needed, for up to `torque_off_timeout_s`), then close. False if it was not confirmed.

        Never raises a bus error: it runs on the way out of the process, whatever went wrong
        before."""
        self.torque_wanted = False
        self.torque_on = False
        try:
            unconfirmed = torque.torque_off(self.bus, self._ids,
                                            self.settings.torque_off_timeout_s, self._clock)
        finally:
            self.bus.close()
            self._checked = False
        if unconfirmed:
            names = ', '.join(f'{i} ({self.names_by_id[i]})' for i in unconfirmed)
            self.counters.last_problem = (
                f'torque off not confirmed by servo(s) {names} within '
                f'{self.settings.torque_off_timeout_s:g} s: {self.bus.counters.last_error}')
        return not unconfirmed

    def _apply_torque(self):
        if self.torque_wanted:
            held = torque.torque_on(self.bus, self._ids, self._read_ticks_strict)
            self._use(held)
            self.torque_on = True
            return
        self.torque_on = False
        unconfirmed = torque.torque_off(self.bus, self._ids, timeout_s=0.5, clock=self._clock)
        if unconfirmed:
            raise BusError(f'torque off not confirmed by servo(s) {unconfirmed}: '
                           f'{self.bus.counters.last_error}')

    # --- readings -----------------------------------------------------------------------------

    def _read_positions(self, attempts: int) -> Dict[int, bytes]:
        def plausible(servo_id, data):
            ticks = reads.POSITION.value(reg.PRESENT_POSITION, data)
            return self.plausibility.plausible(self._joint[servo_id], ticks, self._clock())
        return self.bus.sync_read(reads.POSITION.address, reads.POSITION.length, self._ids,
                                  attempts, accept=plausible)

    def _read_ticks_strict(self) -> List[int]:
        answers = self._read_positions(attempts=5)
        missing = [i for i in self._ids if i not in answers]
        if missing:
            raise BusError(f'no plausible position from servo(s) {missing}: '
                           f'{self.bus.counters.last_error}')
        return [reads.POSITION.value(reg.PRESENT_POSITION, answers[i]) for i in self._ids]

    def _use(self, ticks: List[int]):
        """A full, plausible reading becomes the arm's position (and the reference for the
        next readings' plausibility)."""
        self.plausibility.accept(ticks, self._clock())
        self.position = self.joint_map.to_radians(ticks)

    # --- connection ---------------------------------------------------------------------------

    def _try_connect(self) -> bool:
        now = self._clock()
        if not self.bus.is_open:
            if now < self._next_connect:
                return False
            self._next_connect = now + self.settings.reconnect_interval_s
        try:
            if not self.bus.is_open:
                self.bus.open()
            blocks = connection.check_servos(self.bus, self._names, self._ids,
                                             self.calibration, self.settings.verify_calibration)
            connection.apply_setup(self.bus, self._names, self._ids, self.setup, blocks)
            self._apply_torque()
        except BusError as error:
            self._connect_failed(error, now)
            return False
        self._checked = self._fresh = True
        self._unchecked_since = None
        self.counters.connects += 1
        self.counters.consecutive_failures = 0
        return True

    def _connect_failed(self, error: BusError, now: float):
        self.torque_on = False
        self.counters.connect_failures += 1
        self.counters.last_problem = f'connecting to {self.settings.port}: {error}'
        if self._unchecked_since is None:
            self._unchecked_since = now
        # A silent bus is asked again at the next cycle on the open port; a port that failed,
        # a refusal (wrong servo, calibration) or a long silence wait for the reconnect interval.
        if isinstance(error, (PortGone, ArmSetupError)) or \
                now - self._unchecked_since > REOPEN_AFTER_S:
            self.bus.close()
            self._unchecked_since = None

    def _disconnect(self, reason: str):
        self.bus.close()
        self._lose_arm(reason)
        self._next_connect = self._clock()  # try again at once: a glitch may already be over

    def _lose_arm(self, reason: str):
        self._checked = False
        self.torque_on = False
        self.counters.disconnects += 1
        self.counters.last_problem = reason

    def _cycle_failed(self, reason: str):
        self.counters.failed_cycles += 1
        self.counters.consecutive_failures += 1
        self.counters.last_problem = reason
        if self.counters.consecutive_failures >= self.settings.failures_before_reconnect:
            # The servos may have lost power (torque off, setup gone): check them again, on the
            # port as it is; only a failing device needs it reopened.
            self._lose_arm(f'{self.counters.consecutive_failures} failed cycles in a row '
                           f'({reason}); reconnecting')
