"""The control loop's fixed-rate sleep.

On wall-clock time the control thread sleeps to absolute deadlines of the monotonic clock itself.
An rclpy Rate is woken by a timer that the executor has to dispatch first; on a loaded CPU,
behind the callbacks of 30 Hz images and joint states (and Python's GIL), that wake-up came tens
of milliseconds late (benchmarks/actor_loop.py). With simulated time (/clock, a simulation
faster than real time) the rclpy Rate is used: only it follows the simulation's clock.
"""
import threading
import time


class ControlRate:
    def __init__(self, node, rate_hz: float):
        self.period_s = 1.0 / rate_hz
        self._destroyed = threading.Event()
        sim_time = node.get_parameter('use_sim_time').value
        self._rate = node.create_rate(rate_hz) if sim_time else None
        self._deadline = None

    def sleep(self) -> None:
        """Until the next tick of the schedule. A loop that fell more than a period behind
        starts a new schedule instead of rushing through the missed ticks."""
        if self._rate is not None:
            self._rate.sleep()
            return
        if self._destroyed.is_set():
            raise RuntimeError('the control rate was destroyed (the node is stopping)')
        now = time.monotonic()
        if self._deadline is None or now - self._deadline > self.period_s:
            self._deadline = now
        self._deadline += self.period_s
        if self._destroyed.wait(max(0.0, self._deadline - time.monotonic())):
            raise RuntimeError('the control rate was destroyed (the node is stopping)')

    def destroy(self) -> None:
        """Wake and refuse sleepers: the node is stopping."""
        self._destroyed.set()
        if self._rate is not None:
            self._rate.destroy()
