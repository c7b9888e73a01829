"""The camera node, as a real process, reading generated video files through OpenCV."""
import os
import signal
import subprocess
import threading
import time

import cv2
import numpy as np
import pytest
from ament_index_python.packages import get_package_prefix
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.clock import Clock
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from hilserl_common import qos
from hilserl_common.bags import decode_image
from hilserl_common.images import from_msg
from hilserl_common.preprocessing import jpeg_size, preprocess
from hilserl_testing.nodes import ProbeNode, stop_process
from so101_driver.camera.node import capture_stamp

pytestmark = pytest.mark.graph


def write_video(path, frames=30, black=False):
    """An MJPG .avi (the codec this OpenCV build writes and reads back) of a moving pattern."""
    temporary = str(path) + '.tmp.avi'
    writer = cv2.VideoWriter(temporary, cv2.VideoWriter_fourcc(*'MJPG'), 30, (640, 480))
    assert writer.isOpened(), 'OpenCV cannot write MJPG .avi here'
    x = np.arange(640)[None, :]
    for k in range(frames):
        frame = np.zeros((480, 640, 3), np.uint8)
        if not black:
            frame[:] = (((x + 8 * k) // 40) % 2 * 200)[..., None]
            cv2.circle(frame, (320, 240), 60, (0, 0, 255), -1)
        writer.write(frame)
    writer.release()
    os.replace(temporary, path)


class Probe(ProbeNode):
    def __init__(self):
        super().__init__('camera_probe')
        self.messages = {'raw': [], 'jpeg': [], 'proc': [], 'info': [], 'diagnostics': [],
                         'front_proc': [], 'front_info': []}
        self._lock = threading.Lock()
        for key, msg_type, topic, profile in (
                ('raw', Image, 'wrist_camera/image_raw', qos.SENSOR),
                ('jpeg', CompressedImage, 'wrist_camera/image_raw/compressed', qos.SENSOR),
                ('proc', Image, 'wrist_camera/image_proc', qos.SENSOR),
                ('info', CameraInfo, 'wrist_camera/camera_info', qos.SENSOR),
                ('front_proc', Image, 'front_camera/image_proc', qos.SENSOR),
                ('front_info', CameraInfo, 'front_camera/camera_info', qos.SENSOR),
                ('diagnostics', DiagnosticArray, '/diagnostics', qos.COMMANDS)):
            self.node.create_subscription(msg_type, topic, self._recorder(key), profile)
        self.spin_in_background()

    def _recorder(self, key):
        def record(msg):
            with self._lock:
                self.messages[key].append((time.monotonic(), msg))
        return record

    def since(self, key, start):
        with self._lock:
            return [m for t, m in self.messages[key] if t >= start]

    def wait_for(self, key, predicate=lambda m: True, since=0.0, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for m in self.since(key, since) if predicate(m)]
            if found:
                return found[0]
            time.sleep(0.02)
        raise AssertionError(f'no matching {key} message within {timeout} s')


def diagnostic_value(array, key):
    return int(dict((v.key, v.value) for v in array.status[0].values)[key])


def test_a_frame_is_stamped_when_it_was_read_not_after_its_decoding():
    clock = Clock()
    before_ns = clock.now().nanoseconds
    stamp = capture_stamp(clock, time.monotonic() - 0.05)  # read 50 ms ago
    late_ms = (stamp.sec * 10**9 + stamp.nanosec - before_ns) / 1e6
    assert -50.5 < late_ms < -49.0, late_ms


def test_frames_flow_survive_a_vanished_source_and_dead_frames_are_flagged(tmp_path):
    video = tmp_path / 'wrist.avi'
    write_video(video)
    executable = os.path.join(get_package_prefix('so101_driver'), 'lib', 'so101_driver', 'camera')
    log_path = tmp_path / 'camera.log'
    with open(log_path, 'w') as log:
        camera = subprocess.Popen(
            [executable, '--ros-args', '-p', f'source:={video}', '-p', 'fps:=30.0',
             '-p', 'read_timeout_s:=0.5', '-p', 'reconnect_interval_s:=0.2',
             '-p', 'dead_frame_warn_period_s:=1.0'], stdout=log, stderr=subprocess.STDOUT)
    probe = Probe()
    try:
        # Frames flow: raw at the source size, processed at 128x128, with camera info.
        first = probe.wait_for('proc')
        start = time.monotonic()
        deadline = start + 10.0  # 30 fps: 20 frames take 0.7 s on an idle machine
        while len(probe.since('proc', start)) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        procs = probe.since('proc', start)
        assert len(procs) >= 20, f'{len(procs)} processed frames in 10 s'
        assert from_msg(first).shape == (128, 128, 3)
        raw = probe.wait_for('raw')
        assert (raw.height, raw.width, raw.encoding) == (480, 640, 'rgb8')
        # The full frame in JPEG: the file's own MJPG bytes, stamped as the processed image.
        jpeg = probe.wait_for('jpeg')
        assert jpeg_size(np.frombuffer(jpeg.data, np.uint8)) == (480, 640)
        assert 'jpeg' in jpeg.format
        same = probe.wait_for('proc', lambda m: m.header.stamp == jpeg.header.stamp)
        error = np.abs(preprocess(decode_image(jpeg)).astype(int) - from_msg(same))
        assert error.mean() < 1.0  # the node decodes at half size
        info = probe.wait_for('info')
        assert (info.width, info.height, info.header.frame_id) == (640, 480, 'wrist_camera')
        stamps = [m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for m in procs]
        assert all(b > a for a, b in zip(stamps, stamps[1:])), 'a frame was published twice'

        # The source vanishes: frames stop; it returns: frames flow again without a restart.
        os.rename(video, tmp_path / 'away.avi')
        time.sleep(2.0)  # past the end of the 1 s file that was open
        gone = time.monotonic()
        time.sleep(0.6)
        assert len(probe.since('proc', gone)) == 0
        down = probe.wait_for('diagnostics', lambda a: a.status[0].level == b'\x02', since=gone)
        assert 'cannot open camera source' in down.status[0].message
        os.rename(tmp_path / 'away.avi', video)
        back = time.monotonic()
        probe.wait_for('proc', since=back, timeout=3.0)
        assert diagnostic_value(probe.wait_for('diagnostics', since=back), 'opens') >= 2

        # A black source: frames still flow, flagged as dead on /diagnostics and in the log.
        write_video(video, black=True)
        warned = probe.wait_for('diagnostics', lambda a: a.status[0].level == b'\x01',
                                since=time.monotonic(), timeout=6.0)
        assert 'dead frame' in warned.status[0].message
    finally:
        probe.close()
        stop_process(camera, timeout=10, name='camera', log_path=log_path)
    assert camera.returncode == 0, log_path.read_text()
    assert 'dead frame' in log_path.read_text()


def test_two_named_cameras_run_from_one_parameter_file(tmp_path):
    """The wrist and the front camera: the same executable twice, each under its own name and
    its own section of config/camera.yaml, each on its own topics."""
    from ament_index_python.packages import get_package_share_directory
    params = os.path.join(get_package_share_directory('hilserl_bringup'), 'config',
                          'camera.yaml')
    executable = os.path.join(get_package_prefix('so101_driver'), 'lib', 'so101_driver', 'camera')
    cameras = []
    for name in ('wrist_camera', 'front_camera'):
        video = tmp_path / f'{name}.avi'
        write_video(video, black=name == 'front_camera', frames=90)
        cameras.append(subprocess.Popen(
            [executable, '--ros-args', '-r', f'__node:={name}', '--params-file', params,
             '-p', f'source:={video}'], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT))
    probe = Probe()
    try:
        wrist = from_msg(probe.wait_for('proc'))
        front = from_msg(probe.wait_for('front_proc'))
        assert wrist.shape == front.shape == (128, 128, 3)
        assert wrist.std() > 10 and front.max() < 10  # each topic carries its own camera
        assert probe.wait_for('info').header.frame_id == 'wrist_camera'
        assert probe.wait_for('front_info').header.frame_id == 'front_camera'
    finally:
        probe.close()
        for camera in cameras:
            camera.send_signal(signal.SIGINT)
        codes = [stop_process(camera, timeout=10, name=name)
                 for camera, name in zip(cameras, ('wrist_camera', 'front_camera'))]
    assert codes == [0, 0]
