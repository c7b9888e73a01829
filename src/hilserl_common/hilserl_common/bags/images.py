"""Image messages as pixels: the one decoder of sensor_msgs Image (rgb8, bgr8, mono8) and
CompressedImage (JPEG, PNG), for messages from rclpy and from rosbags alike (any object with
their fields), and the JPEG form a full camera frame is kept in."""
import cv2
import numpy as np

from hilserl_common.bags.layout import COMPRESSED_IMAGE, IMAGE

CHANNELS = {'rgb8': 3, 'bgr8': 3, 'mono8': 1}
# A 640x480 frame is 40-70 kB at this quality; after the crop and the resize to 128x128 the loss
# averages under one grey level (a few at sharp colour edges).
JPEG_QUALITY = 90
JPEG_FORMAT = 'rgb8; jpeg compressed bgr8'  # what image_transport's compressed plugin writes


def pixels(msg) -> np.ndarray:
    """An Image message's pixels as H x W x C uint8, channels in the message's order (a copy)."""
    channels = CHANNELS.get(msg.encoding)
    if channels is None:
        raise ValueError(f'unsupported image encoding {msg.encoding!r} '
                         f'(use one of {", ".join(CHANNELS)})')
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size != msg.height * msg.step or msg.step < msg.width * channels:
        raise ValueError(f'image data has {data.size} bytes, expected {msg.height * msg.step} '
                         f'for {msg.height}x{msg.width} {msg.encoding} with step {msg.step}')
    rows = data.reshape(msg.height, msg.step)[:, :msg.width * channels]
    return rows.reshape(msg.height, msg.width, channels).copy()


def decode_image(msg) -> np.ndarray:
    """An Image or CompressedImage message as H x W x 3 uint8 RGB."""
    if hasattr(msg, 'format'):  # CompressedImage
        bgr = cv2.imdecode(np.frombuffer(msg.data, dtype=np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f'cannot decode a {msg.format!r} compressed image')
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    image = pixels(msg)
    if msg.encoding == 'bgr8':
        return np.ascontiguousarray(image[..., ::-1])
    if msg.encoding == 'mono8':
        return np.repeat(image, 3, axis=2)
    return image


def compressed(store, rgb: np.ndarray, header):
    """A CompressedImage (JPEG) of the typestore's classes for an H x W x 3 RGB frame."""
    ok, jpeg = cv2.imencode('.jpg', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError(f'cannot JPEG-encode a {rgb.shape} frame')
    return store.types[COMPRESSED_IMAGE](header=header, format=JPEG_FORMAT,
                                         data=jpeg.reshape(-1))


def compress_image_cdr(store, serialized: bytes) -> bytes:
    """A serialised Image as a serialised CompressedImage (JPEG) with the same header."""
    msg = store.deserialize_cdr(serialized, IMAGE)
    return store.serialize_cdr(compressed(store, decode_image(msg), msg.header), COMPRESSED_IMAGE)
