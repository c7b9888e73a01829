"""Camera frames for the page: JPEG through OpenCV."""
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
