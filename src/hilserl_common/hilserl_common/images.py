"""numpy <-> sensor_msgs/Image for rgb8/bgr8/mono8 without cv_bridge (not on PyPI); the pixels
are read by the bag module's decoder, the one reader of image messages."""
import numpy as np
from sensor_msgs.msg import Image

from hilserl_common.bags.images import CHANNELS, pixels


def to_msg(image: np.ndarray, stamp=None, frame_id: str = '', encoding: str = 'rgb8') -> Image:
    """An H x W x 3 (or H x W) uint8 array as an Image message."""
    if encoding not in CHANNELS:
        raise ValueError(f'unsupported encoding {encoding!r}; use one of {sorted(CHANNELS)}')
    image = np.ascontiguousarray(image, dtype=np.uint8)
    msg = Image()
    if stamp is not None:
        msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.height, msg.width = image.shape[:2]
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = msg.width * CHANNELS[encoding]
    msg.data = image.tobytes()
    return msg


def from_msg(msg: Image) -> np.ndarray:
    """An Image message as an H x W x C uint8 array, channels as the message has them (a copy,
    safe to keep)."""
    return pixels(msg)
