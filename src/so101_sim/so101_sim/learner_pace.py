"""The simulation waits for the learner: sim time stands still while the learner owes more
critic updates than allowed, so the configured updates per env step hold whatever the CPU gives
(on the real arm time cannot wait, and the learner reports its shortfall instead).

The learner publishes how many updates it owes (hilserl_interfaces/LearnerProgress). The pace
holds only on fresh news: without a message for `timeout_s` (no learner in this graph, a learner
still loading its demos, or one that died) the simulation runs free.
"""
import threading
import time


class LearnerPace:
    def __init__(self, slack_updates: int, timeout_s: float, clock=time.monotonic):
        self.slack_updates = slack_updates
        self.timeout_s = timeout_s
        self.clock = clock
        self._owed = 0
        self._heard_at = -float('inf')
        self._lock = threading.Lock()
        self.waited_s = 0.0  # total time held, for diagnostics

    def heard(self, updates_owed: int) -> None:
        with self._lock:
            self._owed = int(updates_owed)
            self._heard_at = self.clock()

    def holding(self) -> bool:
        """True while the learner is more than `slack_updates` behind (and still talking)."""
        with self._lock:
            fresh = self.clock() - self._heard_at <= self.timeout_s
            return fresh and self._owed > self.slack_updates

    def wait(self, period_s: float = 0.002) -> None:
        """One short wait (called in a loop while holding)."""
        started = time.monotonic()
        time.sleep(period_s)
        self.waited_s += time.monotonic() - started  # a loaded machine sleeps longer
