"""CameraCapture on its own: pacing, source parsing, stall recovery (no ROS)."""
import os
import threading
import time

import cv2
import numpy as np

from hilserl_common.preprocessing import preprocess
from so101_driver.camera.capture import CameraCapture, captured_frame, parse_source


def write_video(path, frames, fourcc='MJPG', size=(320, 240)):
    temporary = str(path) + '.tmp' + path.suffix
    writer = cv2.VideoWriter(temporary, cv2.VideoWriter_fourcc(*fourcc), 30, size)
    for k in range(frames):
        frame = np.full((size[1], size[0], 3), (k * 7) % 255, np.uint8)
        cv2.circle(frame, (size[0] // 2, size[1] // 2), size[1] // 5, (30, 90, 220), -1)
        writer.write(frame)
    writer.release()
    os.replace(temporary, path)  # appears complete, as a camera would


def test_sources_are_indices_or_paths():
    assert parse_source('0') == 0 and parse_source(' 2 ') == 2
    assert parse_source('/dev/video0') == '/dev/video0'
    assert parse_source('rtsp://camera/stream') == 'rtsp://camera/stream'


def test_frames_come_once_each_paced_to_the_rate_and_a_stall_restarts_the_source(tmp_path):
    video = tmp_path / 'clip.avi'
    write_video(video, 300)
    frames, lock = [], threading.Lock()

    def on_frame(frame, captured):
        with lock:
            frames.append((captured, int(frame.rgb()[0, 0, 0])))

    capture = CameraCapture(str(video), on_frame, fps=20.0, read_timeout_s=0.5)
    capture.start()
    try:
        time.sleep(1.0)
        with lock:
            got = list(frames)
        assert 10 <= len(got) <= 22, f'{len(got)} frames in 1 s at 20 fps'
        values = [v for _, v in got]
        assert len(set(values)) == len(values), 'a frame was handed over twice'
        assert capture.counters.opens == 1 and capture.is_open
        # Nothing is overdue yet; pretend the last frame is 2 s old: the watchdog restarts.
        assert not capture.check_stall()
        assert capture.check_stall(now=capture.last_frame_time + 2.0)
        assert capture.counters.stalls == 1
        time.sleep(0.5)
        assert capture.counters.opens == 2
        with lock:
            assert frames[-1][0] > time.monotonic() - 0.3  # frames flow from the new worker
    finally:
        capture.stop()


def test_a_missing_source_is_retried_until_it_appears(tmp_path):
    video = tmp_path / 'late.avi'
    frames = []
    capture = CameraCapture(str(video), lambda rgb, t: frames.append(t), fps=30.0,
                            reconnect_interval_s=0.1)
    capture.start()
    try:
        time.sleep(0.35)
        assert not frames and capture.counters.open_failures >= 2
        assert 'cannot open camera source' in capture.counters.last_problem
        write_video(video, 30)
        time.sleep(0.5)
        assert frames
    finally:
        capture.stop()


def capture_frames(video, seconds=0.5):
    frames = []
    capture = CameraCapture(str(video), lambda frame, _: frames.append(frame), fps=30.0)
    capture.start()
    try:
        time.sleep(seconds)
    finally:
        capture.stop()
    return frames, capture


def test_an_mjpg_source_hands_over_its_own_jpeg_and_a_decoded_128_px_image(tmp_path):
    video = tmp_path / 'mjpg.avi'
    write_video(video, 30, size=(640, 480))
    frames, capture = capture_frames(video)
    assert frames and capture.counters.opens == 1
    frame = frames[-1]
    assert frame.camera_jpeg and frame.size() == (480, 640)
    assert bytes(frame.jpeg()[:2]) == b'\xff\xd8'
    full = frame.rgb()
    assert full.shape == (480, 640, 3)
    # The 128x128 image of the JPEG decoded at half size is the full frame's, within a grey
    # level on average (a few at the circle's edge).
    difference = np.abs(frame.processed().astype(int) - preprocess(full).astype(int))
    assert difference.mean() < 1.0 and difference.max() <= 8


def test_a_source_whose_undecoded_frames_are_not_jpeg_is_read_decoded(tmp_path):
    video = tmp_path / 'mpeg4.mp4'
    write_video(video, 60, fourcc='mp4v')
    frames, capture = capture_frames(video, seconds=1.0)
    assert frames, capture.counters.last_problem
    assert not capture.undecoded and capture.counters.opens == 2
    assert 'undecoded' in capture.counters.last_problem
    assert not frames[-1].camera_jpeg and frames[-1].rgb().shape == (240, 320, 3)
    assert frames[-1].processed().shape == (128, 128, 3)
    assert bytes(frames[-1].jpeg()[:2]) == b'\xff\xd8'  # encoded here for whoever wants it


def test_what_a_read_gave_is_told_apart():
    bgr = np.zeros((4, 6, 3), np.uint8)
    assert not captured_frame(bgr).camera_jpeg
    ok, jpeg = cv2.imencode('.jpg', bgr)
    assert captured_frame(jpeg.reshape(1, -1)).camera_jpeg
    assert captured_frame(np.zeros((1, 50), np.uint8)) is None  # raw, not JPEG
    assert captured_frame(np.zeros((4, 6, 2), np.uint8)) is None  # YUYV read undecoded
