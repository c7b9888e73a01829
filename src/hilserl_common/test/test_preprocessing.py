"""The shared preprocessing crops the centre square and resizes it to 128x128."""
import cv2
import numpy as np
import pytest

from hilserl_common.preprocessing import (
    IMAGE_SIZE,
    center_crop_square,
    is_dead_frame,
    jpeg_size,
    preprocess,
    preprocess_jpeg,
)


def test_640x480_is_centre_cropped_to_480x480_then_resized():
    image = np.zeros((480, 640, 3), np.uint8)
    image[:, :80] = 255            # left margin: cropped away
    image[:, 560:] = 255           # right margin: cropped away
    image[:, 80:320, 1] = 200      # left half of the centre square is green
    out = preprocess(image)
    assert out.shape == (IMAGE_SIZE, IMAGE_SIZE, 3) and out.dtype == np.uint8
    assert out[:, :60, 0].max() == 0 and out[:, :60, 1].min() == 200
    assert out[:, 68:].max() == 0


def test_portrait_and_square_inputs():
    assert center_crop_square(np.zeros((300, 200, 3), np.uint8)).shape == (200, 200, 3)
    square = np.random.default_rng(0).integers(0, 255, (128, 128, 3), dtype=np.uint8)
    assert np.array_equal(preprocess(square), square)


@pytest.mark.parametrize('image', [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 3), np.float32)])
def test_bad_images_are_refused(image):
    with pytest.raises(ValueError):
        preprocess(image)


def test_dead_frames():
    assert is_dead_frame(np.zeros((64, 64, 3), np.uint8))
    assert is_dead_frame(np.full((64, 64, 3), 3, np.uint8))
    noisy = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    assert not is_dead_frame(noisy)


def test_a_frame_is_dead_only_when_every_channel_spreads_less_than_the_threshold():
    def halves(low, high, channel=None):  # half the pixels at low, half at high: std (high-low)/2
        image = np.full((480, 640, 3), low, np.uint8)
        image[:, 320:, slice(None) if channel is None else channel] = high
        return image
    assert is_dead_frame(halves(100, 110))  # std 5/255 = 0.0196 <= 0.02
    assert not is_dead_frame(halves(100, 112))  # 6/255 = 0.0235
    assert not is_dead_frame(halves(100, 112, channel=2))  # one channel varies: not flat
    assert is_dead_frame(halves(100, 112, channel=2), min_channel_std=0.03)


def textured(height, width, detail_px=16):
    rng = np.random.default_rng(1)
    coarse = rng.integers(0, 255, (height // detail_px, width // detail_px, 3), dtype=np.uint8)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)


@pytest.mark.parametrize('height, width, progressive', [(480, 640, 0), (720, 1280, 1),
                                                         (240, 320, 0), (96, 160, 0)])
def test_a_jpeg_frame_is_preprocessed_as_its_full_decode_is(height, width, progressive):
    """640x480 and 1280x720 decode at half size, 320x240 and 160x96 in full (half would be
    smaller than 128): each within a grey level of the full decode's 128x128 image on average."""
    ok, jpeg = cv2.imencode('.jpg', textured(height, width), [
        cv2.IMWRITE_JPEG_QUALITY, 90, cv2.IMWRITE_JPEG_PROGRESSIVE, progressive])
    assert ok and jpeg_size(jpeg.reshape(-1)) == (height, width)
    full = cv2.cvtColor(cv2.imdecode(jpeg, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    image = preprocess_jpeg(jpeg.tobytes())
    assert image.shape == (IMAGE_SIZE, IMAGE_SIZE, 3) and image.dtype == np.uint8
    assert np.abs(image.astype(int) - preprocess(full).astype(int)).mean() < 1.0


def test_bytes_that_are_not_a_jpeg_are_refused_by_name():
    with pytest.raises(ValueError, match='not a JPEG'):
        preprocess_jpeg(b'\x89PNG\r\n')
    with pytest.raises(ValueError, match='frame header'):
        jpeg_size(np.frombuffer(b'\xff\xd8\xff\xe0\x00\x02', np.uint8))
