"""Connecting to an arm: are these the calibrated servos, and do they have the arm's setup?

One read per servo covers its identity, calibration and setup registers (`reads.CONNECTION`),
with the servo's own ID register inside: a reply of another servo, or of another request, is
never taken for this servo's, so a late reply cannot make a good arm look miscalibrated.
Setup registers that differ are written, then read back until they are confirmed.
"""
from typing import Dict, Sequence

from so101_driver.arm.motor_setup import MotorSetup
from so101_driver.calibration import MotorCalibration
from so101_driver.feetech import reads
from so101_driver.feetech import registers as reg
from so101_driver.feetech.bus import BusError, FeetechBus, PortGone

SETUP_ROUNDS = 3


class ArmSetupError(BusError):
    """The servos on the bus are not the calibrated arm (wrong model, id, calibration)."""


def check_servos(bus: FeetechBus, names: Sequence[str], servo_ids: Sequence[int],
                 calibration: Dict[str, MotorCalibration], verify_calibration: bool
                 ) -> Dict[int, bytes]:
    """Each servo's CONNECTION registers, once it is known to be the calibrated arm's."""
    blocks = {}
    for name, servo_id in zip(names, servo_ids):
        block = read_block(bus, name, servo_id)
        model = reads.CONNECTION.value(reg.MODEL_NUMBER, block)
        if model != reg.STS3215_MODEL_NUMBER:
            raise ArmSetupError(f'servo {servo_id} ({name}) is model {model}, expected '
                                f'STS3215 ({reg.STS3215_MODEL_NUMBER})')
        if verify_calibration:
            _check_calibration(name, servo_id, block, calibration[name])
        blocks[servo_id] = block
    return blocks


def read_block(bus: FeetechBus, name: str, servo_id: int) -> bytes:
    def own(i, data):  # the servo's ID register: this servo's reply, not another's
        return reads.CONNECTION.value(reg.ID, data) == i
    try:
        return bus.read_bytes(reads.CONNECTION.address, reads.CONNECTION.length, servo_id,
                              accept=own)
    except PortGone:
        raise
    except BusError as error:
        raise BusError(f'servo {servo_id} ({name}) does not answer ({error})') from None


def _check_calibration(name: str, servo_id: int, block: bytes, expected: MotorCalibration):
    # LeRobot writes these three registers when it calibrates; if they differ from the file,
    # the positions read would not mean what the file says.
    for register, value in ((reg.HOMING_OFFSET, expected.homing_offset),
                            (reg.MIN_POSITION_LIMIT, expected.range_min),
                            (reg.MAX_POSITION_LIMIT, expected.range_max)):
        actual = reads.CONNECTION.value(register, block)
        if actual != value:
            raise ArmSetupError(
                f'servo {servo_id} ({name}): {register.name} is {actual} but the calibration '
                f'file says {value}; recalibrate this arm (lerobot-calibrate) or use its file')


def apply_setup(bus: FeetechBus, names: Sequence[str], servo_ids: Sequence[int],
                setup: MotorSetup, blocks: Dict[int, bytes]) -> None:
    """Write the settings a servo does not have yet, and read them back."""
    for name, servo_id in zip(names, servo_ids):
        block = blocks[servo_id]
        for attempt in range(SETUP_ROUNDS + 1):
            wrong = [(r.name, v) for r, v in setup.settings_for(name)
                     if _current(bus, servo_id, r, block) != v]
            if not wrong:
                break
            if attempt == SETUP_ROUNDS:
                raise BusError(f'servo {servo_id} ({name}): setup not confirmed, still wrong: '
                               f'{wrong}')
            for register, value in setup.settings_for(name):
                if (register.name, value) in wrong:
                    bus.write(register, servo_id, value)
            block = read_block(bus, name, servo_id)


def _current(bus: FeetechBus, servo_id: int, register: reg.Register, block: bytes) -> int:
    span = reads.CONNECTION
    if span.address <= register.address < span.address + span.length:
        return span.value(register, block)
    return bus.read(register, servo_id)  # outside the block: a read of its own (1 or 2 bytes)
