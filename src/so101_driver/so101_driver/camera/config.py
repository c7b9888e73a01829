"""Parameters of a camera node (config/camera.yaml, one section per named camera)."""
import dataclasses

from hilserl_common.config import in_range, length, param, positive


@dataclasses.dataclass(frozen=True)
class CameraConfig:
    source: str = param('0', 'OpenCV source: a device index ("0"), a device path '
                             '(/dev/video0), a video file or a stream URL')
    width: int = param(640, 'requested frame width in pixels', positive)
    height: int = param(480, 'requested frame height in pixels', positive)
    fps: float = param(30.0, 'requested frame rate; files and fast streams are paced to it',
                       in_range(1.0, 240.0))
    fourcc: str = param('MJPG', 'pixel format asked of a camera (MJPG allows 640x480 at 30 fps '
                                'over USB 2); empty: the driver default')
    read_timeout_s: float = param(1.0, 'no frame for this long: reopen the source', positive)
    reconnect_interval_s: float = param(0.5, 'time between attempts to open the source',
                                        positive)
    frame_id: str = param('', 'frame_id of the images and camera info; empty: the camera\'s '
                          'name (the node name)')
    camera_matrix: list = param([0.0] * 9, 'intrinsics K, row-major (zeros: uncalibrated)',
                                length(9))
    distortion: list = param([0.0] * 5, 'plumb_bob distortion coefficients k1 k2 t1 t2 k3',
                             length(5))
    dead_frame_warn_period_s: float = param(5.0, 'at most one dead-frame warning per period',
                                            positive)
