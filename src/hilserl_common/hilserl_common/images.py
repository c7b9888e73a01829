"""numpy <-> sensor_msgs/Image for rgb8/bgr8/mono8 without cv_bridge (not on PyPI)."""
import numpy as np
from sensor_msgs.msg import Image

_CHANNELS = {'rgb8': 3, 'bgr8': 3, 'mono8': 1}


def to_msg(image: np.ndarray, stamp=None, frame_id: str = '', encoding: str = 'rgb8') -> Image:
    """An H x W x 3 (or H x W) uint8 array as an Image message."""
    if encoding not in _CHANNELS:
        raise ValueError(f'unsupported encoding {encoding!r}; use one of {sorted(_CHANNELS)}')
    image = np.ascontiguousarray(image, dtype=np.uint8)
    msg = Image()
    if stamp is not None:
        msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.height, msg.width = image.shape[:2]
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = msg.width * _CHANNELS[encoding]
    msg.data = image.tobytes()
    return msg


def from_msg(msg: Image) -> np.ndarray:
    """An Image message as an H x W x C uint8 array (a copy, safe to keep)."""
    channels = _CHANNELS.get(msg.encoding)
    if channels is None:
        raise ValueError(f'unsupported image encoding {msg.encoding!r}')
    expected = msg.height * msg.step
    data = np.frombuffer(bytes(msg.data), dtype=np.uint8)
    if data.size != expected or msg.step < msg.width * channels:
        raise ValueError(f'image data has {data.size} bytes, expected {expected} '
                         f'for {msg.height}x{msg.width} {msg.encoding}')
    rows = data.reshape(msg.height, msg.step)[:, :msg.width * channels]
    return rows.reshape(msg.height, msg.width, channels).copy()
