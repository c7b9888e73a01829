"""The Feetech bus layer and the reconnecting arm, through the real scservo_sdk, against the
emulated STS3215 chain on a pseudo-terminal."""
import dataclasses
import time

import numpy as np
import pytest

from so101_description.model import JOINT_NAMES, joint_limits
from so101_driver.arm.motor_setup import FOLLOWER, LEADER
from so101_driver.arm.servo_arm import BusSettings, ServoArm
from so101_driver.calibration import JointMap
from so101_driver.emulator import EmulatedBus, EmulatedServo, Faults, protocol
from so101_driver.emulator.arm import calibrated_servos, example_calibration
from so101_driver.feetech import registers as reg
from so101_driver.feetech.bus import FeetechBus, PortGone

CALIBRATION = example_calibration()


@pytest.fixture
def link(tmp_path):
    return str(tmp_path / 'ttySO101')


def start_bus(link, servos, **faults):
    return EmulatedBus(link, servos, Faults(**faults), seed=7).start()


def make_arm(link, setup=FOLLOWER, **settings):
    joint_map = JointMap(CALIBRATION, JOINT_NAMES, *joint_limits())
    return ServoArm(BusSettings(link, **settings), joint_map, CALIBRATION, setup)


def test_registers_round_trip_including_sign_magnitude():
    assert reg.encode(reg.HOMING_OFFSET, -1470) == (1470 | 1 << 11).to_bytes(2, 'little')
    for register, value in ((reg.HOMING_OFFSET, -2047), (reg.PRESENT_POSITION, -12),
                            (reg.PRESENT_VELOCITY, 3000), (reg.GOAL_POSITION, 4095)):
        assert reg.decode(register, reg.encode(register, value)) == value
    with pytest.raises(ValueError, match='Homing_Offset'):
        reg.encode(reg.HOMING_OFFSET, 2048)


def test_the_emulator_parses_through_garbage_and_ignores_bad_checksums():
    good = protocol.instruction_packet(3, protocol.READ, bytes([56, 2]))
    bad = bytearray(protocol.instruction_packet(2, protocol.PING))
    bad[-1] ^= 0xFF
    buffer = bytearray(b'\x00\x13\xff' + bytes(bad) + good + good[:4])
    packets, skipped = protocol.parse(buffer)
    assert packets == [protocol.Instruction(3, protocol.READ, bytes([56, 2]))]
    assert skipped > 0 and bytes(buffer) == good[:4]  # the partial packet waits for the rest


def test_sdk_transactions_against_the_emulator(link):
    servos = [EmulatedServo(i, position=1000 + i) for i in (1, 2, 3)]
    with start_bus(link, servos) as emulated:
        bus = FeetechBus(link)
        bus.open()
        assert bus.ping(2) == reg.STS3215_MODEL_NUMBER
        answers = bus.sync_read(reg.PRESENT_POSITION.address, 2, [1, 2, 3])
        assert {i: reg.decode(reg.PRESENT_POSITION, a) for i, a in answers.items()} == {
            1: 1001, 2: 1002, 3: 1003}
        bus.write(reg.TORQUE_ENABLE, 3, 1)
        bus.sync_write(reg.GOAL_POSITION, {3: 1500})
        time.sleep(0.3)  # 3000 ticks/s
        assert bus.read(reg.PRESENT_POSITION, 3) == 1500
        assert emulated.writes(reg.GOAL_POSITION.address)[-1].instruction == 'sync_write'
        bus.close()


def test_lost_and_corrupt_replies_are_retried_and_counted(link):
    servos = calibrated_servos(CALIBRATION).values()
    with start_bus(link, servos, drop_reply=0.05, corrupt_reply=0.02) as emulated:
        bus = FeetechBus(link)
        bus.open()
        complete = sum(len(bus.sync_read(56, 4, range(1, 7), attempts=3)) == 6
                       for _ in range(200))
        assert complete >= 190
        counters = bus.counters
        assert counters.timeouts > 0 and counters.corrupt > 0 and counters.retries > 0
        assert counters.failures == counters.timeouts + counters.corrupt
        assert counters.timeouts <= emulated.counters.dropped
        bus.close()


def test_late_replies_are_never_taken_for_other_answers(link):
    servos = calibrated_servos(CALIBRATION)
    with start_bus(link, servos.values(), delay_reply=0.2, delay_s=0.015) as emulated:
        bus = FeetechBus(link)
        bus.open()
        truth = {s.servo_id: s.value(reg.PRESENT_POSITION) for s in servos.values()}
        for k in range(60):
            servo_id = 1 + k % 6
            bus.write(reg.ACCELERATION, servo_id, 200 + k % 50, attempts=5)  # late acks...
            assert bus.read(reg.PRESENT_POSITION, servo_id, attempts=5) == truth[servo_id]
            answers = bus.sync_read(reg.PRESENT_POSITION.address, 2, range(1, 7), attempts=3)
            for i, data in answers.items():  # ...never read as positions
                assert reg.decode(reg.PRESENT_POSITION, data) == truth[i]
        assert emulated.counters.delayed > 20 and bus.counters.timeouts > 0
        bus.close()


def test_connecting_checks_models_applies_the_so101_setup_and_holds_the_pose(link):
    servos = calibrated_servos(CALIBRATION)
    with start_bus(link, servos.values()) as emulated:
        arm = make_arm(link)
        arm.torque_wanted = True
        state = arm.read()
        assert state is not None and state.fresh_connection
        assert np.allclose(state.position[:5], 0.0, atol=1e-3)  # resting at mid-range
        for servo in servos.values():
            assert servo.value(reg.P_COEFFICIENT) == 16 and servo.value(reg.D_COEFFICIENT) == 32
            assert servo.value(reg.I_COEFFICIENT) == 0
            assert servo.value(reg.RETURN_DELAY_TIME) == 0
            assert servo.value(reg.ACCELERATION) == 254
            assert servo.value(reg.TORQUE_ENABLE) == 1
            assert servo.value(reg.GOAL_POSITION) == servo.value(reg.PRESENT_POSITION)
        assert servos['gripper'].value(reg.MAX_TORQUE_LIMIT) == 500
        assert servos['elbow_flex'].value(reg.MAX_TORQUE_LIMIT) == 1000
        # Goal = present was confirmed on every servo before the first torque-on.
        writes = emulated.writes()
        first_torque = next(k for k, w in enumerate(writes)
                            if w.address == reg.TORQUE_ENABLE.address and w.data == b'\x01')
        goal_ids = {w.servo_id for w in writes[:first_torque]
                    if w.address == reg.GOAL_POSITION.address}
        assert goal_ids == set(range(1, 7))
        assert arm.read().fresh_connection is False
        assert arm.shutdown()
        assert all(s.value(reg.TORQUE_ENABLE) == 0 for s in servos.values())


def test_the_leader_setup_leaves_torque_off(link):
    servos = calibrated_servos(CALIBRATION)
    with start_bus(link, servos.values()):
        arm = make_arm(link, setup=LEADER)
        assert arm.read() is not None
        assert all(s.value(reg.TORQUE_ENABLE) == 0 for s in servos.values())
        assert servos['gripper'].value(reg.P_COEFFICIENT) == 32  # untouched
        arm.shutdown()


def test_a_wrong_servo_model_or_calibration_is_refused_with_the_servo_named(link):
    servos = calibrated_servos(CALIBRATION)
    servos['wrist_flex'] = EmulatedServo(4, model_number=1284)  # an SCS0009 on id 4
    with start_bus(link, servos.values()):
        arm = make_arm(link)
        assert arm.read() is None
        assert 'servo 4 (wrist_flex) is model 1284' in arm.counters.last_problem
        assert not arm.connected
    servos = calibrated_servos(CALIBRATION)
    servos['elbow_flex'].write(reg.HOMING_OFFSET.address, reg.encode(reg.HOMING_OFFSET, 12))
    with start_bus(link, servos.values()):
        arm = make_arm(link)
        assert arm.read() is None
        assert 'servo 3 (elbow_flex): Homing_Offset is 12 but the calibration file says -1095' \
            in arm.counters.last_problem
    del servos['gripper']
    with start_bus(link, servos.values()):
        arm = make_arm(link, verify_calibration=False)
        assert arm.read() is None
        assert 'servo 6 (gripper) does not answer' in arm.counters.last_problem


def test_after_the_device_vanishes_the_arm_reconnects_and_restores_torque(link):
    servos = calibrated_servos(CALIBRATION)
    with start_bus(link, servos.values(), drop_reply=0.05, corrupt_reply=0.02) as emulated:
        arm = make_arm(link, reconnect_interval_s=0.05)
        arm.torque_wanted = True
        assert arm.read() is not None
        emulated.unplug()
        with pytest.raises(PortGone):
            arm.bus.sync_read(56, 2, [1])
        assert arm.read() is None and not arm.connected
        emulated.plug(power_cycled=True)  # servos lost power: torque off, RAM settings reset
        assert all(s.value(reg.TORQUE_ENABLE) == 0 for s in servos.values())
        deadline = time.monotonic() + 2.0
        state = None
        while state is None and time.monotonic() < deadline:
            state = arm.read()
            time.sleep(0.01)
        assert state is not None and state.fresh_connection
        assert all(s.value(reg.TORQUE_ENABLE) == 1 for s in servos.values())
        assert all(s.value(reg.ACCELERATION) == 254 for s in servos.values())
        assert arm.counters.connects == 2 and arm.counters.disconnects >= 1
        assert arm.shutdown()


def test_repeated_failed_cycles_check_the_servos_again_on_the_open_port(link):
    servos = calibrated_servos(CALIBRATION)
    with start_bus(link, servos.values()) as emulated:
        arm = make_arm(link, failures_before_reconnect=3, packet_timeout_ms=2.0)
        assert arm.read() is not None
        emulated.faults = Faults(drop_reply=1.0)  # servos went silent (power lost)
        results = [arm.read() for _ in range(3)]
        assert results == [None, None, None]
        assert not arm.connected and arm.counters.disconnects == 1
        assert 'failed cycles in a row' in arm.counters.last_problem
        assert arm.bus.is_open  # a silent bus is no failing device: no reopening
        emulated.faults = Faults()
        state = arm.read()  # at once, without waiting for the reconnect interval
        assert state is not None and state.fresh_connection
        arm.shutdown()


def test_shutdown_turns_torque_off_even_after_a_disconnection(link):
    servos = calibrated_servos(CALIBRATION)
    with start_bus(link, servos.values()) as emulated:
        arm = make_arm(link)
        arm.torque_wanted = True
        assert arm.read() is not None
        emulated.unplug()
        assert arm.read() is None
        emulated.plug()  # a glitch: servos kept power and torque
        assert all(s.value(reg.TORQUE_ENABLE) == 1 for s in servos.values())
        assert arm.shutdown()
        assert all(s.value(reg.TORQUE_ENABLE) == 0 for s in servos.values())


def test_servo_alarms_are_counted_and_named(link):
    servos = calibrated_servos(CALIBRATION)
    with start_bus(link, servos.values()):
        arm = make_arm(link)
        assert arm.read() is not None
        servos['gripper'].alarm = 0x20  # squeezing too hard
        assert arm.read() is not None  # the position still counts
        assert arm.bus.counters.servo_alarms == 1
        assert 'servo 6' in arm.bus.counters.last_error
        assert 'Overload' in arm.bus.counters.last_error
        arm.shutdown()


def test_telemetry_reports_voltage_and_temperature(link):
    servos = calibrated_servos(CALIBRATION, voltage_dv=121, temperature_c=38)
    with start_bus(link, servos.values()):
        arm = make_arm(link)
        arm.read()
        telemetry = arm.read_telemetry()
        assert telemetry.voltage_v['gripper'] == pytest.approx(12.1)
        assert telemetry.temperature_c['shoulder_pan'] == 38
        arm.shutdown()


def test_goals_beyond_the_calibrated_range_are_not_written(link):
    servos = calibrated_servos(CALIBRATION)
    with start_bus(link, servos.values()) as emulated:
        arm = make_arm(link)
        arm.torque_wanted = True
        arm.read()
        assert arm.write_goals(np.array([9.0, -9.0, 9.0, -9.0, 9.0, -9.0]))
        time.sleep(0.2)  # a sync write has no reply: give the emulator time to apply it
        goals = {w.servo_id: reg.decode(reg.GOAL_POSITION, w.data)
                 for w in emulated.writes(reg.GOAL_POSITION.address)}
        joint_map = arm.joint_map
        limits = [joint_map.to_ticks(joint_map.upper), joint_map.to_ticks(joint_map.lower)]
        for index, servo_id in enumerate(range(1, 7)):
            expected = limits[index % 2][index]
            assert goals[servo_id] == expected
            c = dataclasses.astuple(CALIBRATION[JOINT_NAMES[index]])
            assert c[3] <= goals[servo_id] <= c[4]
        arm.shutdown()
