"""What the actor node's callbacks hand to its control thread: the newest value of each input,
and the operator's marks (keyboard, pedal, console)."""
import threading
import time
from typing import Callable, Optional

from hilserl_actor.episode import Snapshot
from hilserl_actor.session import OPERATOR_EVENTS, PAUSE_EVENTS


class LatestInputs:
    """The newest value of each input; written by callbacks, read by the control thread."""

    def __init__(self):
        self._lock = threading.Lock()
        self._snapshot = Snapshot(now_s=0.0)
        self._updated = threading.Condition(self._lock)

    def update(self, **fields):
        with self._lock:
            for name, value in fields.items():
                setattr(self._snapshot, name, value)
            self._updated.notify_all()

    def wait_for_image(self, taken_from_s: float, longest_s: float,
                       stopping: Callable[[], bool]) -> bool:
        """Until the newest wrist frame is stamped `taken_from_s` or later, for at most
        `longest_s` of wall time; whether it is. A frame that is already that fresh is not
        waited for. Wall time even on sim time: the simulation holds sim time at the tick until
        the step commands (so101_sim/command_hold.py), so a wait on sim time would never end."""
        return self._wait_for('image_time_s', taken_from_s, longest_s, stopping)

    def wait_for_reward(self, of_frame_s: float, longest_s: float,
                        stopping: Callable[[], bool]) -> bool:
        """Until the newest reward is the verdict on a frame stamped `of_frame_s` or later (the
        classifier stamps it with its frame's stamp), as wait_for_image."""
        return self._wait_for('success_time_s', of_frame_s, longest_s, stopping)

    def _wait_for(self, stamp_field: str, from_s: float, longest_s: float,
                  stopping: Callable[[], bool]) -> bool:
        deadline = time.monotonic() + longest_s
        with self._lock:
            while getattr(self._snapshot, stamp_field) < from_s:
                if time.monotonic() >= deadline or stopping():
                    return False
                self._updated.wait(0.005)
        return True

    def snapshot(self, now_s: float) -> Snapshot:
        with self._lock:
            copy = Snapshot(**vars(self._snapshot))
        copy.now_s = now_s
        copy.wall_s = time.monotonic()
        return copy


class OperatorMarks:
    """success, failure (end the episode) or rerecord (discard it), taken once by the control
    thread; pause and resume hold back or let go the next episode."""

    def __init__(self):
        self._lock = threading.Lock()
        self._event = ''
        self.paused = False

    def take(self, event: str) -> Optional[bool]:
        """Record `event`; the new pause state when it was a pause event, else None. Raises
        ValueError naming the known events for any other."""
        with self._lock:
            if event in OPERATOR_EVENTS:
                self._event = event
                return None
            if event in PAUSE_EVENTS:
                self.paused = not self.paused if event == 'pause_toggle' else event == 'pause'
                return self.paused
        raise ValueError(f'unknown operator_event {event!r}; expected one of '
                         f'{", ".join(OPERATOR_EVENTS + PAUSE_EVENTS)}')

    def newest(self) -> str:
        """The mark made since the last call, or ''."""
        with self._lock:
            event, self._event = self._event, ''
            return event
