"""The bus and the arm under the faults a USB servo bus shows, through the real scservo_sdk against
the emulated STS3215 chain: no reply is taken for another request's or another servo's, nothing
the SDK raises on bad bytes escapes, an interrupt never leaves the port busy, torque off is
confirmed or reported, and a short silence costs little more than itself."""
import random
import signal
import threading
import time
import traceback

import pytest

from so101_description.model import JOINT_NAMES, joint_limits
from so101_driver.arm.motor_setup import FOLLOWER
from so101_driver.arm.servo_arm import BusSettings, ServoArm
from so101_driver.calibration import JointMap
from so101_driver.emulator import EmulatedBus, Faults
from so101_driver.emulator.arm import calibrated_servos, example_calibration
from so101_driver.feetech import registers as reg
from so101_driver.feetech.bus import BusError, FeetechBus

CALIBRATION = example_calibration()
# Every servo at a pose of its own, so that a reply taken for the wrong servo shows.
POSE = {'shoulder_pan': 1500, 'shoulder_lift': 2600, 'elbow_flex': 1200, 'wrist_flex': 2900,
        'wrist_roll': 600, 'gripper': 3300}
CONFUSING = dict(delay_reply=0.05, delay_s=0.012, delay_jitter_s=0.03, foreign_id=0.03,
                 duplicate_reply=0.05,
                 corrupt_request=0.03, drop_request=0.03, drop_reply=0.03)


@pytest.fixture
def link(tmp_path):
    return str(tmp_path / 'ttySO101')


def start_bus(link, seed=7, **faults):
    servos = calibrated_servos(CALIBRATION, POSE)
    return EmulatedBus(link, servos.values(), Faults(**faults), seed=seed).start()


def make_arm(link, **settings):
    joint_map = JointMap(CALIBRATION, JOINT_NAMES, *joint_limits())
    return ServoArm(BusSettings(link, **settings), joint_map, CALIBRATION, FOLLOWER)


def connect(arm, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = arm.read()
        if state is not None:
            return state
        time.sleep(0.005)
    raise AssertionError(f'no connection: {arm.counters.last_problem}')


def all_torque(emulated):
    return {s.value(reg.TORQUE_ENABLE) for s in emulated.servos.values()}


def test_each_emulated_fault_does_what_it_says(link):
    with start_bus(link) as emulated:
        bus = FeetechBus(link)
        bus.open()
        emulated.faults = Faults(drop_request=1.0)
        with pytest.raises(BusError, match='no status packet'):
            bus.write(reg.ACCELERATION, 2, 100, attempts=2)
        assert emulated.servos[2].value(reg.ACCELERATION) == 0  # never received
        emulated.faults = Faults(corrupt_request=1.0)
        with pytest.raises(BusError):
            bus.read(reg.PRESENT_POSITION, 2, attempts=2)
        assert emulated.counters.corrupted_requests == 2
        emulated.faults = Faults(foreign_id=1.0)
        with pytest.raises(BusError):  # a reply from "another servo" is no answer
            bus.read(reg.PRESENT_POSITION, 2, attempts=2)
        emulated.faults = Faults()
        emulated.go_silent(0.2)
        with pytest.raises(BusError):
            bus.read(reg.PRESENT_POSITION, 2, attempts=2)
        time.sleep(0.2)
        assert bus.read(reg.PRESENT_POSITION, 2) == 2600
        assert emulated.counters.foreign == 2 and emulated.counters.silenced_requests == 2
        bus.close()
    with pytest.raises(ValueError, match='drop_reply = 1.5 is not a probability'):
        Faults(drop_reply=1.5)


def test_no_reply_is_taken_for_another_requests_or_another_servos(link):
    with start_bus(link, **CONFUSING) as emulated:
        arm = make_arm(link)
        arm.torque_wanted = True
        connect(arm)
        truth = arm.joint_map.to_radians([POSE[n] for n in JOINT_NAMES])
        states = []
        for cycle in range(300):
            states.append(arm.read())
            if cycle % 5 == 0:  # between position reads, as in the node: late replies of one
                telemetry = arm.read_telemetry()  # must never pass for the other
        delivered = [s for s in states if s is not None]
        assert all((s.position == truth).all() for s in delivered)
        assert (arm.position == truth).all()
        assert set(telemetry.voltage_v.values()) == {12.0}  # not a position read as voltage
        assert len(delivered) >= 0.85 * len(states)
        counters = emulated.counters
        assert counters.foreign > 10 and counters.delayed > 10 and counters.duplicated > 10
        assert arm.bus.counters.mismatched > 10  # the faults came, and were recognised
        assert arm.shutdown() and all_torque(emulated) == {0}


def test_connecting_survives_late_duplicated_and_foreign_id_replies(link):
    with start_bus(link, delay_reply=0.1, delay_s=0.015, duplicate_reply=0.1,
                   foreign_id=0.05) as emulated:
        for _ in range(15):
            arm = make_arm(link)
            arm.torque_wanted = True
            state = connect(arm)
            assert state.fresh_connection and all_torque(emulated) == {1}
            refusals = [w for w in ('recalibrate', 'is model') if w in arm.counters.last_problem]
            assert not refusals, arm.counters.last_problem
            assert arm.shutdown() and all_torque(emulated) == {0}
        assert emulated.counters.foreign > 5 and emulated.counters.delayed > 5


def test_what_the_sdk_raises_on_unexpected_bytes_is_a_bus_error(link):
    # Each reply comes 5 ms late and again 3 ms later: the SDK's ping then takes the copy of its
    # ping reply (a status packet without data) for the model number and indexes into nothing.
    with start_bus(link, delay_reply=1.0, delay_s=0.005, duplicate_reply=1.0,
                   duplicate_delay_s=0.003):
        bus = FeetechBus(link)
        bus.open()
        failures = 0
        for _ in range(10):
            try:
                assert bus.ping(1, attempts=1) == reg.STS3215_MODEL_NUMBER
            except BusError:
                failures += 1
        assert failures > 0 and bus.counters.mismatched > 0
        bus.close()


def test_an_interrupt_at_any_moment_leaves_the_port_free_and_torque_off_confirmed(link):
    rng = random.Random(14)
    inside_the_sdk = 0

    def interrupt(*_):
        raise KeyboardInterrupt
    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        with start_bus(link, drop_reply=0.1, delay_reply=0.1, delay_s=0.015) as emulated:
            for _ in range(20):
                arm = make_arm(link)
                arm.torque_wanted = True
                connect(arm)
                signal.setitimer(signal.ITIMER_REAL, rng.uniform(0.001, 0.06))
                try:
                    while True:  # the control cycle, until Ctrl-C
                        arm.read()
                except KeyboardInterrupt as interrupted:
                    frames = traceback.extract_tb(interrupted.__traceback__)
                    inside_the_sdk += any('scservo_sdk' in f.filename for f in frames)
                assert arm.shutdown(), arm.counters.last_problem
                assert all_torque(emulated) == {0}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert inside_the_sdk >= 5  # most interrupts landed while the SDK waited for a reply


def test_shutdown_confirms_torque_off_once_replies_come_back_and_names_what_it_cannot(link):
    with start_bus(link) as emulated:
        arm = make_arm(link)
        arm.torque_wanted = True
        connect(arm)
        emulated.faults = Faults(drop_reply=1.0)  # requests arrive, no reply comes back
        threading.Timer(0.4, lambda: setattr(emulated, 'faults', Faults())).start()
        started = time.monotonic()
        assert arm.shutdown(), arm.counters.last_problem
        assert time.monotonic() - started >= 0.35 and all_torque(emulated) == {0}

        arm = make_arm(link, torque_off_timeout_s=0.3)
        arm.torque_wanted = True
        connect(arm)
        emulated.go_silent(5.0)
        assert not arm.shutdown()
        assert 'torque off not confirmed by servo(s) 1 (shoulder_pan), 2 (shoulder_lift)' in \
            arm.counters.last_problem
        emulated.go_silent(0.0)


def test_a_short_silence_costs_little_more_than_itself(link):
    with start_bus(link) as emulated:
        arm = make_arm(link)
        arm.torque_wanted = True
        connect(arm)
        period, silence_s = 1 / 30, 0.5
        start = time.monotonic()
        silence_ends, failed_after_silence, fresh = None, 0, []
        while time.monotonic() < start + 2.0:
            tick = time.monotonic()
            if silence_ends is None and tick >= start + 0.5:
                emulated.go_silent(silence_s)
                silence_ends = tick + silence_s
            state = arm.read()
            if state is None and silence_ends is not None and tick >= silence_ends:
                failed_after_silence += 1
            fresh += [state is not None and state.fresh_connection]
            time.sleep(max(0.0, tick + period - time.monotonic()))
        # Back at the first or second cycle after the silence (a reconnect interval would be 7).
        assert failed_after_silence <= 2, arm.counters.last_problem
        assert arm.counters.disconnects == 1 and sum(fresh) == 1  # checked again, torque back
        assert arm.bus.counters.port_errors == 0 and all_torque(emulated) == {1}
        assert arm.shutdown()
