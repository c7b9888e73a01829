"""The camera node: raw and preprocessed (128x128) images with camera info, one node per named
camera. The node's name is the camera's: `wrist_camera` (the default) publishes
wrist_camera/{image_raw,image_proc,camera_info}, a node started as `front_camera` publishes
front_camera/*; each reads its own section of config/camera.yaml.

A thin shell around CameraCapture: every new frame is published once, stamped with its capture
time; dead (black or flat) frames raise a warning and a WARN on /diagnostics.
"""
import threading

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import CameraInfo, Image

from hilserl_common import qos
from hilserl_common.diagnostics import status_array
from hilserl_common.images import to_msg
from hilserl_common.node import Node, main_for
from hilserl_common.params import load_config
from hilserl_common.preprocessing import is_dead_frame, preprocess
from so101_driver.camera.capture import CameraCapture
from so101_driver.camera.config import CameraConfig

OK, WARN, ERROR = 0, 1, 2


class CameraNode(Node):
    def __init__(self):
        super().__init__('wrist_camera')
        self.config = load_config(self, CameraConfig)
        self.camera = self.get_name()
        self.frame_id = self.config.frame_id or self.camera
        self.raw = self.create_publisher(Image, f'{self.camera}/image_raw', qos.SENSOR)
        self.proc = self.create_publisher(Image, f'{self.camera}/image_proc', qos.SENSOR)
        self.info = self.create_publisher(CameraInfo, f'{self.camera}/camera_info', qos.SENSOR)
        self.diagnostics = self.create_publisher(DiagnosticArray, '/diagnostics', qos.COMMANDS)
        self.dead_frames = self._dead_in_period = 0
        self._lock = threading.Lock()
        c = self.config
        self.capture = CameraCapture(c.source, self._on_frame, c.width, c.height, c.fps,
                                     c.fourcc, c.read_timeout_s, c.reconnect_interval_s)
        self.create_timer(min(0.25, c.read_timeout_s / 2), self._watch)
        self.create_timer(1.0, self._publish_diagnostics)
        self.capture.start()
        self.get_logger().info(f'{self.camera} from {c.source!r} at {c.width}x{c.height} '
                               f'{c.fps:g} fps')

    def _on_frame(self, rgb: np.ndarray, _captured: float):
        frame_id = self.frame_id
        if is_dead_frame(rgb):
            with self._lock:
                self.dead_frames += 1
                self._dead_in_period += 1
            self.get_logger().warn('dead frame: every colour channel is flat (std <= 0.02); is '
                                   'the lens covered, the light off or the camera broken?',
                                   throttle_duration_sec=self.config.dead_frame_warn_period_s)
        try:
            stamp = self.get_clock().now().to_msg()
            self.raw.publish(to_msg(rgb, stamp, frame_id))
            self.proc.publish(to_msg(preprocess(rgb), stamp, frame_id))
            self.info.publish(self._camera_info(rgb.shape, stamp))
        except Exception:
            if self.context.ok():
                raise
            # Ctrl-C/SIGTERM shut the context down while this frame was on its way: drop it.

    def _camera_info(self, shape, stamp) -> CameraInfo:
        info = CameraInfo(height=shape[0], width=shape[1], distortion_model='plumb_bob',
                          d=list(self.config.distortion), k=list(self.config.camera_matrix))
        info.header.stamp, info.header.frame_id = stamp, self.frame_id
        return info

    def _watch(self):
        if self.capture.check_stall():
            self.get_logger().warn(f'{self.capture.counters.last_problem}; reopening')

    def _publish_diagnostics(self):
        counters = self.capture.counters
        with self._lock:
            dead, self._dead_in_period = self._dead_in_period, 0
        if not self.capture.is_open:
            level, message = ERROR, f'not capturing: {counters.last_problem}'
        elif dead:
            level, message = WARN, f'{dead} dead frame(s) in the last second (black or flat image)'
        else:
            level, message = OK, 'capturing'
        values = [(k, str(v)) for k, v in vars(counters).items()]
        values.append(('dead_frames', str(self.dead_frames)))
        self.diagnostics.publish(status_array(
            self.get_clock().now().to_msg(), level, f'camera: {self.camera}', message,
            str(self.config.source), values))

    def destroy_node(self):
        self.capture.stop()
        super().destroy_node()


main = main_for(CameraNode)
