"""CameraCapture on its own: pacing, source parsing, stall recovery (no ROS)."""
import os
import threading
import time

import cv2
import numpy as np

from so101_driver.camera.capture import CameraCapture, parse_source


def write_video(path, frames):
    temporary = str(path) + '.tmp.avi'
    writer = cv2.VideoWriter(temporary, cv2.VideoWriter_fourcc(*'MJPG'), 30, (320, 240))
    for k in range(frames):
        writer.write(np.full((240, 320, 3), (k * 7) % 255, np.uint8))
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

    def on_frame(rgb, captured):
        with lock:
            frames.append((captured, int(rgb[0, 0, 0])))

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
