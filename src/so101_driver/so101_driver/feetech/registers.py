"""The STS3215 control table: the registers this workspace reads and writes.

Addresses and sizes are Feetech's published STS/SMS memory table (the same one LeRobot uses).
Multi-byte values are little-endian ("protocol end" 0). Some registers are sign-magnitude:
the sign is one bit (11 or 15), not two's complement.
"""
from typing import NamedTuple, Optional

STS3215_MODEL_NUMBER = 777
TICKS_PER_TURN = 4096
EEPROM_END = 40  # addresses below are EEPROM (kept across power cycles); SRAM from here on


class Register(NamedTuple):
    name: str
    address: int
    size: int
    sign_bit: Optional[int] = None  # sign-magnitude encoding: index of the sign bit


MODEL_NUMBER = Register('Model_Number', 3, 2)
ID = Register('ID', 5, 1)
BAUD_RATE = Register('Baud_Rate', 6, 1)
RETURN_DELAY_TIME = Register('Return_Delay_Time', 7, 1)  # units of 2 us
RESPONSE_STATUS_LEVEL = Register('Response_Status_Level', 8, 1)
MIN_POSITION_LIMIT = Register('Min_Position_Limit', 9, 2)
MAX_POSITION_LIMIT = Register('Max_Position_Limit', 11, 2)
MAX_TORQUE_LIMIT = Register('Max_Torque_Limit', 16, 2)  # 0.1 % of stall torque
P_COEFFICIENT = Register('P_Coefficient', 21, 1)
D_COEFFICIENT = Register('D_Coefficient', 22, 1)
I_COEFFICIENT = Register('I_Coefficient', 23, 1)
PROTECTION_CURRENT = Register('Protection_Current', 28, 2)
HOMING_OFFSET = Register('Homing_Offset', 31, 2, sign_bit=11)
OPERATING_MODE = Register('Operating_Mode', 33, 1)  # 0: position servo
OVERLOAD_TORQUE = Register('Overload_Torque', 36, 1)
TORQUE_ENABLE = Register('Torque_Enable', 40, 1)
ACCELERATION = Register('Acceleration', 41, 1)
GOAL_POSITION = Register('Goal_Position', 42, 2, sign_bit=15)
GOAL_VELOCITY = Register('Goal_Velocity', 46, 2, sign_bit=15)
TORQUE_LIMIT = Register('Torque_Limit', 48, 2)
LOCK = Register('Lock', 55, 1)  # 1: EEPROM writes are not stored
PRESENT_POSITION = Register('Present_Position', 56, 2, sign_bit=15)
PRESENT_VELOCITY = Register('Present_Velocity', 58, 2, sign_bit=15)  # ticks/s
PRESENT_LOAD = Register('Present_Load', 60, 2, sign_bit=10)  # 0.1 % of stall torque
PRESENT_VOLTAGE = Register('Present_Voltage', 62, 1)  # 0.1 V
PRESENT_TEMPERATURE = Register('Present_Temperature', 63, 1)  # degrees Celsius
MOVING = Register('Moving', 66, 1)
PRESENT_CURRENT = Register('Present_Current', 69, 2, sign_bit=15)
MAXIMUM_ACCELERATION = Register('Maximum_Acceleration', 85, 1)

ALL = (MODEL_NUMBER, ID, BAUD_RATE, RETURN_DELAY_TIME, RESPONSE_STATUS_LEVEL, MIN_POSITION_LIMIT,
       MAX_POSITION_LIMIT, MAX_TORQUE_LIMIT, P_COEFFICIENT, D_COEFFICIENT, I_COEFFICIENT,
       PROTECTION_CURRENT, HOMING_OFFSET, OPERATING_MODE, OVERLOAD_TORQUE, TORQUE_ENABLE,
       ACCELERATION, GOAL_POSITION, GOAL_VELOCITY, TORQUE_LIMIT, LOCK, PRESENT_POSITION,
       PRESENT_VELOCITY, PRESENT_LOAD, PRESENT_VOLTAGE, PRESENT_TEMPERATURE, MOVING,
       PRESENT_CURRENT, MAXIMUM_ACCELERATION)


def encode(register: Register, value: int) -> bytes:
    """A signed integer as the register's little-endian bytes."""
    value = int(value)
    if register.sign_bit is not None:
        magnitude = abs(value)
        if magnitude >= 1 << register.sign_bit:
            raise ValueError(f'{register.name}: {value} does not fit in {register.sign_bit} bits')
        value = magnitude | ((1 << register.sign_bit) if value < 0 else 0)
    elif not 0 <= value < 1 << (8 * register.size):
        raise ValueError(f'{register.name}: {value} is outside 0..{(1 << 8 * register.size) - 1}')
    return value.to_bytes(register.size, 'little')


def decode(register: Register, data) -> int:
    """The register's little-endian bytes as a signed integer."""
    value = int.from_bytes(bytes(data[:register.size]), 'little')
    if register.sign_bit is not None and value & (1 << register.sign_bit):
        value = -(value & ((1 << register.sign_bit) - 1))
    return value


def span(first: Register, last: Register) -> int:
    """Bytes from the start of `first` to the end of `last` (one sync read covers them all)."""
    return last.address + last.size - first.address
