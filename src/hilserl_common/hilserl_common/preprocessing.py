"""The one image preprocessing of the workspace: centre-crop to a square, resize to 128x128.

The camera node, the simulation, the reward classifier's datasets and the demo loader all call
this function, so the policy and the classifier always see the same pixels (a crop that
differed between training and serving broke classifiers in earlier SO-101 ports). A frame that
arrives as JPEG (a camera's MJPG, a recorded full frame) goes through `preprocess_jpeg`: the same
crop and resize of the frame decoded at a reduced size, which the JPEG decoder does cheaply.
"""
import cv2
import numpy as np

IMAGE_SIZE = 128
PREPROCESSING_ID = 'center_crop_square+resize_128_area'


def center_crop_square(image: np.ndarray) -> np.ndarray:
    """The largest centred square of an H x W x C image."""
    height, width = image.shape[:2]
    side = min(height, width)
    top = (height - side) // 2
    left = (width - side) // 2
    return image[top:top + side, left:left + side]


def preprocess(image: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """H x W x 3 uint8 RGB -> size x size x 3 uint8 RGB (centre crop, then area resize)."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'expected an H x W x 3 image, got shape {image.shape}')
    if image.dtype != np.uint8:
        raise ValueError(f'expected uint8 pixels, got {image.dtype}')
    square = center_crop_square(image)
    if square.shape[0] == size:
        return np.ascontiguousarray(square)
    interpolation = cv2.INTER_AREA if square.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(square, (size, size), interpolation=interpolation)


def preprocess_jpeg(data, size: int = IMAGE_SIZE) -> np.ndarray:
    """A JPEG frame (a camera's own MJPG bytes) -> size x size x 3 uint8 RGB, as `preprocess`
    of the decoded frame: decoded at half size when the square crop keeps at least `size` pixels
    (libjpeg scales while decoding: for 640x480, 0.7 ms instead of 2.2 ms with the crop and the
    resize). The result differs from a full decode's by 0.2-0.5 grey levels on average (for
    detail 16-32 pixels across in the full frame); a quarter size would differ by 1.6-1.7."""
    buffer = np.frombuffer(data, np.uint8) if isinstance(data, (bytes, bytearray, memoryview)) \
        else np.asarray(data, np.uint8).reshape(-1)
    height, width = jpeg_size(buffer)
    flag = next((flag for factor, flag in REDUCED_DECODES
                 if min(height, width) // factor >= size), cv2.IMREAD_COLOR)  # small: in full
    bgr = cv2.imdecode(buffer, flag)
    if bgr is None:
        raise ValueError(f'cannot decode a {width}x{height} JPEG frame')
    return cv2.cvtColor(preprocess(bgr, size), cv2.COLOR_BGR2RGB)


# (reduction, imdecode flag), the largest first; 1 is a full decode
REDUCED_DECODES = ((2, cv2.IMREAD_REDUCED_COLOR_2), (1, cv2.IMREAD_COLOR))
# Start-of-frame markers (baseline, progressive, ...) carry the size; C4, C8 and CC do not.
_START_OF_FRAME = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def is_jpeg(data) -> bool:
    """True when the bytes start as a JPEG does (start-of-image marker)."""
    return len(data) >= 3 and bytes(data[:3]) == b'\xff\xd8\xff'


def jpeg_size(data: np.ndarray) -> tuple:
    """(height, width) of a JPEG from its frame header, without decoding it."""
    if not is_jpeg(data):
        raise ValueError('not a JPEG frame (no start-of-image marker)')
    at = 2
    while at + 9 <= len(data):
        if data[at] != 0xFF:
            break
        marker = int(data[at + 1])
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in _START_OF_FRAME:
            return (int(data[at + 5]) << 8 | int(data[at + 6]),
                    int(data[at + 7]) << 8 | int(data[at + 8]))
        at += 2 + (int(data[at + 2]) << 8 | int(data[at + 3]))
    raise ValueError('a JPEG frame without a readable frame header')


def is_dead_frame(image: np.ndarray, min_channel_std: float = 0.02) -> bool:
    """True for a black/flat frame: every channel's std (pixels scaled to [0, 1]) is tiny.
    OpenCV's one pass over the uint8 pixels: a float copy of a 640x480 frame took 13 ms, which at
    30 frames/s is 40% of a core per camera; this takes 0.4 ms."""
    _, stds = cv2.meanStdDev(np.ascontiguousarray(image))
    return bool(np.all(stds / 255.0 <= min_channel_std))
