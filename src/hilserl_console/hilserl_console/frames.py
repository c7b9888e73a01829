"""Camera frames for the page: JPEG through OpenCV, at most `rate_hz` per camera (a frame that
would not be sent is not encoded)."""
import cv2
import numpy as np

JPEG_QUALITY = 85


def encode_jpeg(image: np.ndarray, encoding: str = 'rgb8') -> bytes:
    """An H x W x 3 (rgb8 or bgr8) or H x W (mono8) uint8 image as JPEG bytes."""
    if image.ndim == 3 and encoding == 'rgb8':
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)  # OpenCV writes BGR
    ok, data = cv2.imencode('.jpg', image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError(f'OpenCV could not encode a {image.shape} {encoding} image as JPEG')
    return data.tobytes()


class FrameGate:
    """Which frames to encode: the first, then none closer than 1/rate_hz to the last one."""

    def __init__(self, rate_hz: float):
        self.period_s = 1.0 / rate_hz
        self.last_s = {}

    def due(self, camera: str, now_s: float) -> bool:
        # 5% slack: frames that arrive at exactly the rate are not dropped by jitter
        if now_s - self.last_s.get(camera, -float('inf')) < 0.95 * self.period_s:
            return False
        self.last_s[camera] = now_s
        return True
