"""The camera node: the preprocessed (128x128) image with camera info, and the full frame (raw and
JPEG) for whoever subscribes, one node per named camera. The node's name is the camera's:
`wrist_camera` (the default) publishes wrist_camera/{image_proc,camera_info,image_raw,
image_raw/compressed}, a node started as `front_camera` publishes front_camera/*; each reads its
own section of config/camera.yaml.

A thin shell around CameraCapture: every new frame is published once, stamped with its capture
time; dead (black or flat) frames raise a warning and a WARN on /diagnostics. The full frame is
made only while someone subscribes to it (rviz, the recorder of demonstrations): at 30 frames/s
a 640x480 frame decoded and published costs more than everything the policy needs from it; from an
MJPG camera, its JPEG form is the camera's own bytes.
"""
import threading
import time

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.duration import Duration
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from hilserl_common import qos
from hilserl_common.bags.images import JPEG_FORMAT
from hilserl_common.diagnostics import status_array
from hilserl_common.images import to_msg
from hilserl_common.node import Node, main_for
from hilserl_common.params import load_config
from hilserl_common.preprocessing import is_dead_frame
from hilserl_common.stamps import NS_PER_S
from so101_driver.camera.capture import CameraCapture, CapturedFrame
from so101_driver.camera.config import CameraConfig

OK, WARN, ERROR = 0, 1, 2


def capture_stamp(clock, captured_monotonic_s: float) -> Time:
    """The clock's time when the frame was read (time.monotonic() then), not after its
    decoding: the policy judges the frame's age by its stamp."""
    since = max(0.0, time.monotonic() - captured_monotonic_s)
    return (clock.now() - Duration(nanoseconds=round(since * NS_PER_S))).to_msg()


class CameraNode(Node):
    def __init__(self):
        super().__init__('wrist_camera')
        self.config = load_config(self, CameraConfig)
        self.camera = self.get_name()
        self.frame_id = self.config.frame_id or self.camera
        self.raw = self.create_publisher(Image, f'{self.camera}/image_raw', qos.SENSOR)
        self.jpeg = self.create_publisher(CompressedImage, f'{self.camera}/image_raw/compressed',
                                          qos.SENSOR)
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

    def _on_frame(self, frame: CapturedFrame, captured: float):
        frame_id = self.frame_id
        try:
            image = frame.processed()
        except ValueError as error:  # a corrupt JPEG from the camera: skip the frame
            self.get_logger().warn(f'frame dropped: {error}', throttle_duration_sec=5.0)
            return
        if is_dead_frame(image):
            with self._lock:
                self.dead_frames += 1
                self._dead_in_period += 1
            self.get_logger().warn('dead frame: every colour channel is flat (std <= 0.02); is '
                                   'the lens covered, the light off or the camera broken?',
                                   throttle_duration_sec=self.config.dead_frame_warn_period_s)
        try:
            stamp = capture_stamp(self.get_clock(), captured)
            self.proc.publish(to_msg(image, stamp, frame_id))
            self.info.publish(self._camera_info(frame.size(), stamp))
            if self.jpeg.get_subscription_count():
                msg = CompressedImage(format=JPEG_FORMAT, data=frame.jpeg().tobytes())
                msg.header.stamp, msg.header.frame_id = stamp, frame_id
                self.jpeg.publish(msg)
            if self.raw.get_subscription_count():
                self.raw.publish(to_msg(frame.rgb(), stamp, frame_id))
        except Exception:
            if self.context.ok():
                raise
            # Ctrl-C/SIGTERM shut the context down while this frame was on its way: drop it.

    def _camera_info(self, size, stamp) -> CameraInfo:
        info = CameraInfo(height=size[0], width=size[1], distortion_model='plumb_bob',
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
