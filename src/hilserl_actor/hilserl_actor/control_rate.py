"""The control loop's fixed-rate sleep.

On wall-clock time the control thread sleeps to absolute deadlines of the monotonic clock itself.
An rclpy Rate is woken by a timer that the executor has to dispatch first; on a loaded CPU,
behind the callbacks of 30 Hz images and joint states (and Python's GIL), that wake-up came tens
of milliseconds late (benchmarks/actor_loop.py).

With simulated time (/clock, a simulation slower or faster than real time) the loop ticks on
whole periods of the node's clock, woken by the clock's own updates. The simulation publishes
its sensors on whole periods of the same clock, so each step finds the frame and the joint
states of its own instant; an rclpy Rate ticks from whenever it was created, and left the
frame's age at a step (0-35 ms) to that chance.
"""
import threading
import time
from typing import Optional

from rclpy.clock import JumpThreshold
from rclpy.duration import Duration

from hilserl_common.stamps import NS_PER_S


def destroyed_error() -> RuntimeError:
    return RuntimeError('the control rate was destroyed (the node is stopping)')


class ControlRate:
    def __init__(self, node, rate_hz: float):
        self.period_s = 1.0 / rate_hz
        self._destroyed = threading.Event()
        self._deadline = None
        self._ticks = None
        if node.get_parameter('use_sim_time').value:
            self._ticks = ClockTicks(node.get_clock(), round(NS_PER_S / rate_hz),
                                     self._destroyed)

    def sleep(self) -> None:
        """Until the next tick of the schedule. A loop that fell more than a period behind
        starts a new schedule instead of rushing through the missed ticks."""
        if self._ticks is not None:
            self._ticks.sleep()
            return
        if self._destroyed.is_set():
            raise destroyed_error()
        now = time.monotonic()
        if self._deadline is None or now - self._deadline > self.period_s:
            self._deadline = now
        self._deadline += self.period_s
        if self._destroyed.wait(max(0.0, self._deadline - time.monotonic())):
            raise destroyed_error()

    @property
    def tick_s(self) -> Optional[float]:
        """The node-clock time of the tick last slept to, on sim time (None on the wall clock,
        whose ticks are on the monotonic clock)."""
        return None if self._ticks is None else self._ticks.deadline_ns / NS_PER_S

    def destroy(self) -> None:
        """Wake and refuse sleepers: the node is stopping."""
        self._destroyed.set()
        if self._ticks is not None:
            self._ticks.destroy()


class ClockTicks:
    """Sleeps to the next whole period of a ROS clock driven by /clock (a period of 100 ms
    ticks at ...0.0, 0.1, 0.2 s of that clock); ticks missed by an overrun are skipped."""

    def __init__(self, clock, period_ns: int, destroyed: threading.Event):
        self._clock = clock
        self._period_ns = period_ns
        self._destroyed = destroyed
        self.deadline_ns = 0
        self._reached = threading.Event()
        self._handle = clock.create_jump_callback(
            JumpThreshold(min_forward=Duration(nanoseconds=1), min_backward=None,
                          on_clock_change=True),
            post_callback=self._on_jump)

    def _on_jump(self, _) -> None:  # the executor's thread, as each /clock message arrives
        if self._clock.now().nanoseconds >= self.deadline_ns:
            self._reached.set()

    def sleep(self) -> None:
        now = self._clock.now().nanoseconds
        self.deadline_ns = (now // self._period_ns + 1) * self._period_ns
        self._reached.clear()
        while not self._destroyed.is_set():
            if self._clock.now().nanoseconds >= self.deadline_ns:
                return
            self._reached.wait(0.1)  # wall seconds: the clock may stand still (a paused sim)
            self._reached.clear()
        raise destroyed_error()

    def destroy(self) -> None:
        self._reached.set()
        self._handle.unregister()
