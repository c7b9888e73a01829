"""An emulated chain of STS3215 servos on a pseudo-terminal, for testing the drivers without an arm.

It speaks the Feetech protocol byte for byte, so the driver under test uses the real
`scservo_sdk` against it, and it injects the faults real USB buses show (`faults.py`): lost and
corrupted requests and replies, late, duplicated and foreign-id replies, servo error bits,
bursts of silence, and the device vanishing and coming back.
"""
from so101_driver.emulator.pty_bus import EmulatedBus, Faults
from so101_driver.emulator.servo import EmulatedServo

__all__ = ['EmulatedBus', 'EmulatedServo', 'Faults']
