"""One emulated STS3215: its control table and a simple position servo.

With torque on, the shaft moves toward the goal at a fixed speed (clamped to the position
limit registers, as the real servo does); with torque off it stays where it is, or where a test
puts it (a person moving the leader arm by hand).
"""
import threading
import time

from so101_driver.feetech import registers as reg

CONTROL_TABLE_SIZE = 128


class EmulatedServo:
    """A servo's registers plus its motion; every method is thread-safe."""

    def __init__(self, servo_id: int, position: int = 2048, model_number: int =
                 reg.STS3215_MODEL_NUMBER, speed_ticks_per_s: float = 3000.0,
                 voltage_dv: int = 120, temperature_c: int = 31, clock=time.monotonic):
        self.servo_id = servo_id
        self.alarm = 0  # error bits of its status packets (0x20 overload, 0x04 overheat, ...)
        self.speed_ticks_per_s = speed_ticks_per_s
        self._clock = clock
        self._lock = threading.Lock()
        self._table = bytearray(CONTROL_TABLE_SIZE)
        self._position = float(position)
        self._updated = clock()
        self._set(reg.MODEL_NUMBER, model_number)
        self._set(reg.ID, servo_id)
        self._set(reg.RETURN_DELAY_TIME, 250)  # factory defaults
        self._set(reg.RESPONSE_STATUS_LEVEL, 1)
        self._set(reg.MAX_POSITION_LIMIT, 4095)
        self._set(reg.MAX_TORQUE_LIMIT, 1000)
        self._set(reg.P_COEFFICIENT, 32)
        self._set(reg.D_COEFFICIENT, 32)
        self._set(reg.PROTECTION_CURRENT, 500)
        self._set(reg.OVERLOAD_TORQUE, 80)
        self._set(reg.LOCK, 1)
        self._set(reg.PRESENT_VOLTAGE, voltage_dv)
        self._set(reg.PRESENT_TEMPERATURE, temperature_c)
        self._power_on_sram()

    # --- bus side -----------------------------------------------------------------------------

    def read(self, address: int, length: int) -> bytes:
        with self._lock:
            self._move()
            return bytes(self._table[address:address + length]).ljust(length, b'\0')

    def write(self, address: int, data: bytes) -> None:
        with self._lock:
            self._move()
            goal_before = self._get(reg.GOAL_POSITION)
            self._table[address:address + len(data)] = data
            self._table[reg.MODEL_NUMBER.address:reg.MODEL_NUMBER.address + 2] = \
                self._model_bytes  # read-only
            if self._get(reg.GOAL_POSITION) != goal_before:
                self._set(reg.GOAL_POSITION, self._clamp(self._get(reg.GOAL_POSITION)))

    # --- test side ----------------------------------------------------------------------------

    def value(self, register: reg.Register) -> int:
        with self._lock:
            self._move()
            return self._get(register)

    def set_position(self, ticks: float) -> None:
        """Move the shaft by hand (torque off) or by force: the next read reports it."""
        with self._lock:
            self._position = float(ticks)
            self._updated = self._clock()
            self._set_present(0.0)

    def power_cycle(self) -> None:
        """SRAM back to power-on values (torque off); EEPROM is kept."""
        with self._lock:
            self._move()
            self._power_on_sram()

    # --- model --------------------------------------------------------------------------------

    def _power_on_sram(self):
        self._model_bytes = bytes(self._table[3:5])
        self._set(reg.TORQUE_ENABLE, 0)
        self._set(reg.ACCELERATION, 0)
        self._set(reg.GOAL_POSITION, round(self._position))
        self._set(reg.TORQUE_LIMIT, self._get(reg.MAX_TORQUE_LIMIT))
        self._set_present(0.0)

    def _move(self):
        now = self._clock()
        dt, self._updated = now - self._updated, now
        velocity = 0.0
        if self._get(reg.TORQUE_ENABLE):
            error = self._get(reg.GOAL_POSITION) - self._position
            step = min(abs(error), self.speed_ticks_per_s * dt)
            self._position += step if error > 0 else -step
            velocity = (step if error > 0 else -step) / dt if dt > 0 else 0.0
        self._set_present(velocity)

    def _set_present(self, velocity: float):
        self._set(reg.PRESENT_POSITION, round(self._position))
        self._set(reg.PRESENT_VELOCITY, round(velocity))
        self._set(reg.MOVING, int(abs(velocity) > 0))

    def _clamp(self, goal: int) -> int:
        low, high = self._get(reg.MIN_POSITION_LIMIT), self._get(reg.MAX_POSITION_LIMIT)
        return min(max(goal, low), high) if low < high else goal

    def _get(self, register: reg.Register) -> int:
        return reg.decode(register, self._table[register.address:register.address + register.size])

    def _set(self, register: reg.Register, value: int):
        self._table[register.address:register.address + register.size] = reg.encode(register, value)
