"""The leader node, as a real process, on an emulated bus, with a pedal and terminal keys for the
intervention toggle and the episode marks (operator_event)."""
import os
import struct
import subprocess
import threading
import time

import numpy as np
import pytest
from ament_index_python.packages import get_package_prefix
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Empty, String

from hilserl_common import qos
from hilserl_common.config import ConfigError, from_dict
from hilserl_testing.nodes import ProbeNode, stop_process
from so101_description.model import JOINT_NAMES, joint_limits
from so101_driver.calibration import JointMap, save_calibration
from so101_driver.emulator import EmulatedBus
from so101_driver.emulator.arm import calibrated_servos, example_calibration
from so101_driver.feetech import registers as reg
from so101_driver.leader.config import LeaderConfig

pytestmark = pytest.mark.graph
KEY_F13 = 183
KEY_F14 = 184


class Probe(ProbeNode):
    """Plays the follower (joint_states at 30 Hz) and records the leader's outputs."""

    def __init__(self, follower_pose):
        super().__init__('leader_probe')
        self.leader, self.flags, self.events = [], [], []
        self._lock = threading.Lock()
        self.node.create_subscription(JointState, 'leader/joint_states',
                                      lambda m: self._record(self.leader, m), qos.SENSOR_RELIABLE)
        self.node.create_subscription(Bool, 'intervention',
                                      lambda m: self._record(self.flags, m.data), qos.COMMANDS)
        self.node.create_subscription(String, 'operator_event',
                                      lambda m: self._record(self.events, m.data), qos.COMMANDS)
        follower = self.node.create_publisher(JointState, 'joint_states', qos.SENSOR_RELIABLE)
        self.toggle = self.node.create_publisher(Empty, 'intervention_toggle', qos.COMMANDS)
        self.node.create_timer(1 / 30, lambda: follower.publish(
            JointState(name=list(JOINT_NAMES), position=list(follower_pose))))
        self.spin_in_background()

    def _record(self, store, value):
        with self._lock:
            store.append((time.monotonic(), value))

    def flags_since(self, start):
        with self._lock:
            return [v for t, v in self.flags if t >= start]

    def wait_flag(self, value, since, timeout=3.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if value in self.flags_since(since):
                return
            time.sleep(0.02)
        raise AssertionError(f'intervention never became {value}')

    def wait_events(self, expected, since, timeout=3.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                events = [v for t, v in self.events if t >= since]
            if events == expected:
                return
            time.sleep(0.02)
        raise AssertionError(f'operator events {events}, expected {expected}')


def key_press(code):
    return struct.pack('llHHi', 0, 0, 1, code, 1) + struct.pack('llHHi', 0, 0, 1, code, 0)


def test_leader_states_intervention_and_episode_marks_from_motion_pedal_and_keys(tmp_path):
    calibration = example_calibration()
    calibration_file = tmp_path / 'leader.json'
    save_calibration(calibration_file, calibration)
    servos = calibrated_servos(calibration)
    bus = EmulatedBus(str(tmp_path / 'ttyLEADER'), servos.values()).start()
    pedal = tmp_path / 'pedal'
    os.mkfifo(pedal)
    executable = os.path.join(get_package_prefix('so101_driver'), 'lib', 'so101_driver', 'leader')
    log_path = tmp_path / 'leader.log'
    with open(log_path, 'w') as log:
        leader = subprocess.Popen(
            [executable, '--ros-args', '-p', f'port:={bus.link_path}',
             '-p', f'calibration_file:={calibration_file}', '-p', f'key_device:={pedal}',
             '-p', f'toggle_key_code:={KEY_F13}', '-p', f'success_key_code:={KEY_F14}',
             '-p', 'stdin_keys:=true', '-p', 'toggle_stdin_key:=t',
             '-p', 'gripper_follower_rad:=[0.0, 0.5]'],
            stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT)
    joint_map = JointMap(calibration, JOINT_NAMES, *joint_limits())
    follower_pose = [0, 0, 0, 0, 0, 0.39]
    probe = Probe(follower_pose)
    pedal_writer = None
    try:
        deadline = time.monotonic() + 20
        while not probe.leader and time.monotonic() < deadline:
            time.sleep(0.05)
        assert probe.leader, log_path.read_text()
        time.sleep(0.5)
        _, state = probe.leader[-1]
        # Resting at mid-range = the model's zero; the gripper mapped by [0, 1] -> [0, 0.5].
        assert np.allclose(state.position[:5], 0.0, atol=1e-3)
        leader_gripper = joint_map.to_radians(
            [0, 0, 0, 0, 0, servos['gripper'].value(reg.PRESENT_POSITION)])[5]
        assert state.position[5] == pytest.approx(leader_gripper * 0.5, abs=1e-3)
        assert not any(probe.flags_since(time.monotonic() - 0.4))

        # The operator moves shoulder_pan by hand (torque off) 300 ticks (0.46 rad) in 0.5 s.
        pan = servos['shoulder_pan']
        start_ticks = pan.value(reg.PRESENT_POSITION)
        moved = time.monotonic()
        for k in range(1, 26):
            pan.set_position(start_ticks + 12 * k)
            time.sleep(0.02)
        probe.wait_flag(True, moved)
        released = time.monotonic()
        probe.wait_flag(False, released, timeout=2.0)  # still for 0.5 s: released

        # The pedal (a USB keyboard on /dev/input) toggles it on, and off again.
        pedal_writer = os.open(pedal, os.O_WRONLY)
        pressed = time.monotonic()
        os.write(pedal_writer, key_press(KEY_F13) + key_press(30))  # 30: another key, ignored
        probe.wait_flag(True, pressed)
        time.sleep(1.0)
        assert all(probe.flags_since(time.monotonic() - 0.8))
        pressed = time.monotonic()
        os.write(pedal_writer, key_press(KEY_F13))
        probe.wait_flag(False, pressed)

        # So does a key on stdin.
        pressed = time.monotonic()
        leader.stdin.write(b't')
        leader.stdin.flush()
        probe.wait_flag(True, pressed)
        leader.stdin.write(b'xt')
        leader.stdin.flush()
        probe.wait_flag(False, time.monotonic())

        # And the operator console's button (intervention_toggle), on and off.
        pressed = time.monotonic()
        probe.toggle.publish(Empty())
        probe.wait_flag(True, pressed)
        time.sleep(0.5)
        assert all(probe.flags_since(time.monotonic() - 0.3))
        pressed = time.monotonic()
        probe.toggle.publish(Empty())
        probe.wait_flag(False, pressed)

        # Episode marks for the actor: a pedal key, then the terminal's keys; others ignored.
        pressed = time.monotonic()
        os.write(pedal_writer, key_press(KEY_F14) + key_press(31))  # 31 KEY_S: rebound, ignored
        probe.wait_events(['success'], pressed)
        pressed = time.monotonic()
        leader.stdin.write(b'fqrp')
        leader.stdin.flush()
        probe.wait_events(['failure', 'rerecord', 'pause_toggle'], pressed)
        time.sleep(0.3)
        assert not any(probe.flags_since(pressed))  # marks are no toggles

        # The leader never had torque.
        assert all(s.value(reg.TORQUE_ENABLE) == 0 for s in servos.values())
        assert {w.servo_id for w in bus.writes(reg.TORQUE_ENABLE.address) if w.data == b'\0'} \
            == set(range(1, 7))
    finally:
        probe.close()
        stop_process(leader, timeout=10, name='leader', log_path=log_path)
        if pedal_writer is not None:
            os.close(pedal_writer)
        bus.stop()
    assert leader.returncode == 0, log_path.read_text()


@pytest.mark.parametrize('changes, words', [
    ({'success_key_code': 57}, ['success_key_code', 'toggle_key_code', '57']),
    ({'failure_stdin_key': 's'}, ['failure_stdin_key', 'success_stdin_key']),
    ({'rerecord_stdin_key': 'rr'}, ['rerecord_stdin_key', 'one ASCII character']),
])
def test_clashing_or_malformed_operator_keys_are_refused_by_name(changes, words):
    with pytest.raises(ConfigError) as error:
        from_dict(LeaderConfig, changes)
    for word in words:
        assert word in str(error.value)


def test_unbound_keys_are_left_out():
    config = from_dict(LeaderConfig, {'failure_key_code': 0, 'rerecord_stdin_key': ''})
    assert set(config.device_keys().values()) == {'toggle', 'success', 'rerecord',
                                                  'pause_toggle'}
    assert config.terminal_keys() == {' ': 'toggle', 's': 'success', 'f': 'failure',
                                      'p': 'pause_toggle'}
