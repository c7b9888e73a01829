"""Which frames the serving node scores, and with which frames of the other views.

The first view's frames are scored at most `rate_hz` a second: the first frame in each whole
period of the stamps' clock. The rate alone ("at least a period after the last one scored") left
the phase to the first frame the node happened to see: with a 30 Hz simulated camera and a 10 Hz
actor on the same grid of sim time, the scored frames fell 0, 36 or 68 ms after the actor's
ticks, set at start-up, and a step's reward was that much older than its state. On whole periods
they are the frames of the ticks themselves.

Each is scored with the other views' frames closest to it in time, once every other view has a
frame at least as new: the simulation publishes the views of one instant one after the other, so
the newest frame of the second view when the first arrives is most likely a period older.
"""
from collections import deque
from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

from hilserl_common.stamps import NS_PER_S

TOLERANCE_NS = 1_000_000  # stamps of one instant may differ by rounding


@dataclass
class FrameSet:
    stamp_ns: int          # the first view's frame
    frames: np.ndarray     # V x H x W x 3, in the order of the views
    context: Any           # what came with the first view's frame (its message)


class FrameSets:
    def __init__(self, views: Sequence[str], rate_hz: float, max_skew_s: float, keep: int = 3):
        self.views = list(views)
        self.period_ns = round(NS_PER_S / rate_hz)
        self.max_skew_ns = round(max_skew_s * NS_PER_S)
        self.recent: Dict[str, deque] = {view: deque(maxlen=keep) for view in self.views[1:]}
        self.pending: Optional[Tuple[int, np.ndarray, Any]] = None  # due, waiting for the others
        self.last_period: Optional[int] = None

    def add(self, view: str, stamp_ns: int, frame: np.ndarray,
            context: Any = None) -> Tuple[Optional[FrameSet], str]:
        """Take one frame; the set to score now (or None), and why a due frame was dropped
        ('' when none was)."""
        problem = ''
        if view != self.views[0]:
            self.recent[view].append((stamp_ns, frame))
        else:
            period = (stamp_ns + TOLERANCE_NS) // self.period_ns
            if self.last_period is None or period > self.last_period:
                if self.pending is not None:
                    problem = self._missing(self.pending[0])
                self.pending, self.last_period = (stamp_ns, frame, context), period
        ready, dropped = self._complete()
        return ready, dropped or problem

    def _complete(self) -> Tuple[Optional[FrameSet], str]:
        if self.pending is None:
            return None, ''
        stamp_ns, first, context = self.pending
        frames = [first]
        for view in self.views[1:]:
            recent = self.recent[view]
            if not recent or recent[-1][0] < stamp_ns - TOLERANCE_NS:
                return None, ''  # its frame of this instant may still come
            closest_ns, closest = min(recent, key=lambda item: abs(item[0] - stamp_ns))
            if abs(closest_ns - stamp_ns) > self.max_skew_ns:
                self.pending = None
                return None, (f'no reward: {view} has no frame within '
                              f'{self.max_skew_ns / 1e6:.0f} ms of the {self.views[0]} frame '
                              f'({abs(closest_ns - stamp_ns) / 1e6:.0f} ms apart)')
            frames.append(closest)
        self.pending = None
        return FrameSet(stamp_ns, np.stack(frames), context), ''

    def _missing(self, stamp_ns: int) -> str:
        late = [view for view, recent in self.recent.items()
                if not recent or recent[-1][0] < stamp_ns - TOLERANCE_NS]
        return f'no reward: no frame of {", ".join(late)} came after the {self.views[0]} frame'
