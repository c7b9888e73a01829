"""Image messages as pixels: the one decoder of sensor_msgs Image (rgb8, bgr8, mono8) and
CompressedImage (JPEG, PNG), for messages from rclpy and from rosbags alike (any object with
their fields), the 128x128 image the policy sees of either, and the JPEG form a full camera frame
is kept in."""
import cv2
import numpy as np

from hilserl_common.bags.layout import COMPRESSED_IMAGE
from hilserl_common.preprocessing import IMAGE_SIZE, is_jpeg, preprocess, preprocess_jpeg

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


def processed_image(msg) -> np.ndarray:
    """The 128x128 RGB image the policy sees of an Image or CompressedImage message: as it is
    when it has that size already, else through the shared preprocessing (a JPEG frame as the
    camera node preprocesses it, `preprocess_jpeg`)."""
    if hasattr(msg, 'format') and is_jpeg(msg.data):
        return preprocess_jpeg(msg.data)
    image = decode_image(msg)
    return image if image.shape[:2] == (IMAGE_SIZE, IMAGE_SIZE) else preprocess(image)


def encode_jpeg(bgr: np.ndarray) -> np.ndarray:
    """An H x W x 3 BGR frame (the encoder's channel order) as JPEG bytes at JPEG_QUALITY."""
    ok, jpeg = cv2.imencode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError(f'cannot JPEG-encode a {bgr.shape} frame')
    return jpeg.reshape(-1)


def compressed(store, rgb: np.ndarray, header):
    """A CompressedImage (JPEG) of the typestore's classes for an H x W x 3 RGB frame, as the
    camera node publishes a full frame."""
    return store.types[COMPRESSED_IMAGE](header=header, format=JPEG_FORMAT,
                                         data=encode_jpeg(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)))
