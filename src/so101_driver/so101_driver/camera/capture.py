"""Frames from an OpenCV source (device index, device path, file or URL) on a worker thread.

The source is reopened when a read fails or when no frame came for `read_timeout_s` (a USB
camera that hangs can block inside read() for many seconds: the stalled worker is abandoned and a
new one opens the source again; the old one exits whenever its read returns). Each frame is
handed over once, with the time it was captured; a frame the source reports with a timestamp
that did not advance is a repeat and is dropped.

An MJPG camera (and an MJPG file) is read undecoded: each frame is handed over as the camera's own
JPEG bytes, which the node publishes as the full frame without encoding it again and decodes at
the reduced size its 128x128 image needs (`CapturedFrame`). A source that gives anything else is
read decoded, as OpenCV converts it.
"""
import dataclasses
import threading
import time
from typing import Callable, Optional, Union

import cv2
import numpy as np

from hilserl_common.bags.images import encode_jpeg
from hilserl_common.preprocessing import is_jpeg, jpeg_size, preprocess, preprocess_jpeg


@dataclasses.dataclass
class CaptureCounters:
    frames: int = 0
    opens: int = 0
    open_failures: int = 0
    read_failures: int = 0
    stalls: int = 0
    repeated_frames: int = 0
    last_problem: str = ''


class CapturedFrame:
    """One frame as the source gave it: JPEG bytes or BGR pixels. Each form is made once, when
    first asked for, so a frame pays only for what its subscribers need."""

    def __init__(self, jpeg: Optional[np.ndarray] = None, bgr: Optional[np.ndarray] = None):
        if (jpeg is None) == (bgr is None):
            raise ValueError('a captured frame is either JPEG bytes or BGR pixels')
        self._jpeg, self._bgr, self._rgb = jpeg, bgr, None

    @property
    def camera_jpeg(self) -> bool:
        """True when the frame came as JPEG bytes (an MJPG source read undecoded)."""
        return self._bgr is None

    def size(self) -> tuple:
        """(height, width) of the full frame."""
        return jpeg_size(self._jpeg) if self._bgr is None else self._bgr.shape[:2]

    def processed(self) -> np.ndarray:
        """The 128x128 RGB image the policy and the classifier see."""
        if self._jpeg is not None:
            return preprocess_jpeg(self._jpeg)
        return cv2.cvtColor(preprocess(self._bgr), cv2.COLOR_BGR2RGB)

    def rgb(self) -> np.ndarray:
        """The full frame, RGB."""
        if self._rgb is None:
            bgr = self._bgr if self._bgr is not None else cv2.imdecode(self._jpeg,
                                                                        cv2.IMREAD_COLOR)
            if bgr is None:
                raise ValueError('the camera sent a JPEG frame that does not decode')
            self._rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        return self._rgb

    def jpeg(self) -> np.ndarray:
        """The full frame as JPEG bytes: the camera's own, else encoded here."""
        if self._jpeg is None:
            self._jpeg = encode_jpeg(self._bgr)
        return self._jpeg


def captured_frame(frame: np.ndarray) -> Optional[CapturedFrame]:
    """What a read gave: an undecoded buffer (one row of bytes) holding a JPEG, or decoded BGR
    pixels; None for any other raw buffer (e.g. a YUYV camera read undecoded)."""
    if frame.ndim == 3 and frame.shape[2] == 3:
        return CapturedFrame(bgr=frame)
    buffer = frame.reshape(-1) if 1 in frame.shape[:2] else None
    if buffer is not None and frame.dtype == np.uint8 and is_jpeg(buffer):
        # A copy: V4L2 hands over its own mapped buffer, which the next read fills again.
        return CapturedFrame(jpeg=buffer.copy())
    return None


def parse_source(source: str) -> Union[int, str]:
    """'0' -> device index 0; anything else (a /dev path, a file, a URL) as it is."""
    return int(source) if source.strip().isdigit() else source


class CameraCapture:
    def __init__(self, source: str, on_frame: Callable[[CapturedFrame, float], None],
                 width: int = 640, height: int = 480, fps: float = 30.0, fourcc: str = '',
                 read_timeout_s: float = 1.0, reconnect_interval_s: float = 0.5):
        self.source = parse_source(source)
        self.on_frame = on_frame  # (CapturedFrame, capture time.monotonic())
        self.width, self.height, self.fps, self.fourcc = width, height, fps, fourcc
        self.read_timeout_s = read_timeout_s
        self.reconnect_interval_s = reconnect_interval_s
        self.counters = CaptureCounters()
        self.is_open = False
        self.undecoded = True  # read JPEG sources undecoded, until one gives something else
        self.last_frame_time: Optional[float] = None
        self._generation = 0
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._workers = []

    def start(self) -> None:
        self._spawn()

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop and wait for the workers: a thread still inside OpenCV when the interpreter
        exits aborts the process."""
        self._stopped.set()
        with self._lock:
            self._generation += 1
        deadline = time.monotonic() + timeout_s
        for worker in self._workers:
            worker.join(timeout=max(0.0, deadline - time.monotonic()))

    def check_stall(self, now: Optional[float] = None) -> bool:
        """Restart the capture if no frame came for read_timeout_s; call it periodically."""
        now = time.monotonic() if now is None else now
        since = self.last_frame_time if self.last_frame_time is not None else self._started
        if not self.is_open or now - since <= self.read_timeout_s:
            return False
        self.counters.stalls += 1
        self.counters.last_problem = f'no frame from {self.source!r} for {now - since:.1f} s'
        self._spawn()
        return True

    # --- worker -------------------------------------------------------------------------------

    def _spawn(self):
        with self._lock:
            self._generation += 1
            generation = self._generation
        self._started = time.monotonic()
        self.is_open = False
        worker = threading.Thread(target=self._run, args=(generation,), daemon=True,
                                  name=f'camera-capture-{generation}')
        worker.start()
        self._workers = [w for w in self._workers if w.is_alive()] + [worker]

    def _current(self, generation) -> bool:
        return generation == self._generation and not self._stopped.is_set()

    def _run(self, generation: int):
        while self._current(generation):
            capture = self._open()
            if capture is None:
                self._stopped.wait(self.reconnect_interval_s)
                continue
            try:
                self._read_frames(capture, generation)
            finally:
                capture.release()
                if self._current(generation):
                    self.is_open = False

    def _open(self) -> Optional[cv2.VideoCapture]:
        capture = cv2.VideoCapture(self.source)
        if not capture.isOpened():
            capture.release()
            self.counters.open_failures += 1
            self.counters.last_problem = f'cannot open camera source {self.source!r}'
            return None
        if self.fourcc:
            capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*self.fourcc))
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        capture.set(cv2.CAP_PROP_FPS, self.fps)
        if self.undecoded:
            self._read_undecoded(capture)
        self.counters.opens += 1
        self.is_open = True
        self._started = time.monotonic()
        return capture

    def _read_undecoded(self, capture: cv2.VideoCapture) -> None:
        """Ask the backend for undecoded frames: FFmpeg (files, streams) gives each packet, V4L2
        the camera's buffer when it sends MJPG. Frames that turn out not to be JPEG switch
        this off (`_read_frames`)."""
        if capture.getBackendName() == 'FFMPEG':
            capture.set(cv2.CAP_PROP_FORMAT, -1)
        elif capture.getBackendName() == 'V4L2' and \
                int(capture.get(cv2.CAP_PROP_FOURCC)) == cv2.VideoWriter_fourcc(*'MJPG'):
            capture.set(cv2.CAP_PROP_CONVERT_RGB, 0)

    def _unusable(self, frame: np.ndarray) -> None:
        """A frame that is neither JPEG nor colour pixels: read undecoded, the source is read
        decoded from the next opening on; read decoded, it is a failure, retried after the
        reconnect interval."""
        if self.undecoded:
            self.undecoded = False
            self.counters.last_problem = (f'{self.source!r} gives frames of shape {frame.shape} '
                                          'undecoded; reading them decoded')
            return
        self.counters.read_failures += 1
        self.counters.last_problem = (f'{self.source!r} gives frames of shape {frame.shape}, '
                                      'not colour images; reopening')
        self._stopped.wait(self.reconnect_interval_s)

    def _read_frames(self, capture: cv2.VideoCapture, generation: int):
        period = 1.0 / self.fps
        next_due = time.monotonic()
        previous_stamp_ms = -1.0
        while self._current(generation):
            ok, frame = capture.read()
            captured = time.monotonic()
            if not self._current(generation):
                return  # a newer worker took over while this read was blocked
            if not ok or frame is None:
                self.counters.read_failures += 1
                self.counters.last_problem = f'read from {self.source!r} failed; reopening'
                return
            stamp_ms = capture.get(cv2.CAP_PROP_POS_MSEC)
            if 0 < stamp_ms <= previous_stamp_ms:
                self.counters.repeated_frames += 1
                continue
            previous_stamp_ms = stamp_ms
            captured_as = captured_frame(frame)
            if captured_as is None:
                self._unusable(frame)
                return
            self.last_frame_time = captured
            self.counters.frames += 1
            self.on_frame(captured_as, captured)
            # Files and streams that deliver faster than the configured rate are paced to it;
            # a camera's read() already waits for its next frame.
            next_due = max(next_due + period, captured)
            self._stopped.wait(max(0.0, next_due - time.monotonic()))
