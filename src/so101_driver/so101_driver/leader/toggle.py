"""Intervention toggles: a key on a Linux input device (a USB foot pedal is a keyboard) or stdin.

Each source runs a daemon thread that calls `on_press()` for every press of its key.
"""
import os
import struct
import sys
import termios
import threading
import time
import tty
from typing import Callable

# struct input_event on 64-bit Linux: timeval (two longs), type, code, value.
INPUT_EVENT = struct.Struct('llHHi')
EV_KEY = 1
KEY_PRESS = 1


class EvdevToggle:
    """Presses of `key_code` (e.g. 57 = KEY_SPACE) on /dev/input/eventN; reopens if unplugged."""

    def __init__(self, path: str, key_code: int, on_press: Callable[[], None],
                 reopen_interval_s: float = 1.0):
        self.path, self.key_code, self.on_press = path, key_code, on_press
        self.reopen_interval_s = reopen_interval_s
        self.presses = 0
        self.last_problem = ''
        threading.Thread(target=self._run, daemon=True, name='evdev-toggle').start()

    def _run(self):
        while True:
            try:
                with open(self.path, 'rb', buffering=0) as device:
                    self._read_events(device)
                self.last_problem = f'{self.path}: end of events'
            except OSError as error:
                self.last_problem = f'{self.path}: {error}'
            time.sleep(self.reopen_interval_s)

    def _read_events(self, device):
        pending = b''
        while True:
            chunk = device.read(INPUT_EVENT.size * 16)
            if not chunk:
                return
            pending += chunk
            while len(pending) >= INPUT_EVENT.size:
                _, _, kind, code, value = INPUT_EVENT.unpack_from(pending)
                pending = pending[INPUT_EVENT.size:]
                if kind == EV_KEY and code == self.key_code and value == KEY_PRESS:
                    self.presses += 1
                    self.on_press()


class StdinToggle:
    """Presses of one character on the terminal (or whatever stdin is)."""

    def __init__(self, key: str, on_press: Callable[[], None]):
        self.key, self.on_press = key.encode()[:1], on_press
        self.presses = 0
        self._saved = None
        stream = sys.stdin
        if stream is not None and stream.isatty():
            self._saved = termios.tcgetattr(stream.fileno())
            tty.setcbreak(stream.fileno())  # one key at a time, no Enter needed
        threading.Thread(target=self._run, daemon=True, name='stdin-toggle').start()

    def _run(self):
        if sys.stdin is None:
            return
        while True:
            key = os.read(sys.stdin.fileno(), 1)
            if not key:
                return
            if key == self.key:
                self.presses += 1
                self.on_press()

    def close(self):
        if self._saved is not None:
            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, self._saved)
