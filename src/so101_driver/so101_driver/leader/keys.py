"""Operator keys: presses on a Linux input device (a USB foot pedal is a keyboard) or on stdin.

Each source runs a daemon thread and calls the callback bound to a key for every press of it.
The leader binds the intervention toggle and the episode marks (success, failure, re-record).
"""
import os
import struct
import sys
import termios
import threading
import time
import tty
from typing import Callable, Dict, Mapping

# struct input_event on 64-bit Linux: timeval (two longs), type, code, value.
INPUT_EVENT = struct.Struct('llHHi')
EV_KEY = 1
KEY_PRESS = 1

Callback = Callable[[], None]


class EvdevKeys:
    """Presses of the bound key codes (e.g. 57 = KEY_SPACE) on /dev/input/eventN; reopens the
    device if it is unplugged."""

    def __init__(self, path: str, bindings: Mapping[int, Callback],
                 reopen_interval_s: float = 1.0):
        self.path, self.bindings = path, dict(bindings)
        self.reopen_interval_s = reopen_interval_s
        self.presses: Dict[int, int] = {code: 0 for code in self.bindings}
        self.last_problem = ''
        threading.Thread(target=self._run, daemon=True, name='evdev-keys').start()

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
                if kind == EV_KEY and value == KEY_PRESS and code in self.bindings:
                    self.presses[code] += 1
                    self.bindings[code]()


class StdinKeys:
    """Presses of single characters on the terminal (or whatever stdin is)."""

    def __init__(self, bindings: Mapping[str, Callback]):
        self.bindings = {key.encode(): callback for key, callback in bindings.items()}
        self.presses: Dict[str, int] = {key: 0 for key in bindings}
        self._saved = None
        stream = sys.stdin
        if stream is not None and stream.isatty():
            self._saved = termios.tcgetattr(stream.fileno())
            tty.setcbreak(stream.fileno())  # one key at a time, no Enter needed
        threading.Thread(target=self._run, daemon=True, name='stdin-keys').start()

    def _run(self):
        if sys.stdin is None:
            return
        while True:
            key = os.read(sys.stdin.fileno(), 1)
            if not key:
                return
            if key in self.bindings:
                self.presses[key.decode()] += 1
                self.bindings[key]()

    def close(self):
        if self._saved is not None:
            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, self._saved)
