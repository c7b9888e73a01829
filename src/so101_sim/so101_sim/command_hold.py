"""Sim time holds at each control tick of an episode until the command of that tick arrives.

On sim time the actor wakes at a tick, reads the frame and joint states published at that
instant, and commands. Without a hold the physics runs on while it computes, so the command
took effect some milliseconds of sim time after its frame: 5 at 0.3 x real time, 15-30 at real
time, more on a slower CPU or a busier moment. The policy then met other dynamics at each speed
(a policy trained at 0.3 x real time scored 90% evaluated at 0.3 and 64% at real time). With
the hold, every command takes effect at the instant of its frame, as in the in-process harness:
the dynamics no longer depend on the CPU or the real-time factor, which only caps the speed.

It holds from the actor's episode_start to its episode_stats (which also ends a hold: an
episode's last step commands nothing), and only while commands come every tick: a tick without
one (a step paused on stale input) lets the simulation run free until the next command. A hold
also ends after `timeout_s` of wall time, counted in `timeouts`. The reset between episodes is
not held: nothing is learned from its timing.
"""
import threading
import time

from so101_sim.streams import Schedule


class CommandHold:
    def __init__(self, rate_hz: float, origin_ns: int, timeout_s: float):
        self.ticks = Schedule(rate_hz, origin_ns)
        self.timeout_s = timeout_s
        self._arrived = 0  # commands received, ever
        self._at_tick = 0  # ... when the last tick was reached
        self._in_episode = False
        self._episode_fresh = False  # started, and no tick reached since
        self._condition = threading.Condition()
        self.holds = 0
        self.timeouts = 0
        self.held_s = 0.0

    # --- the subscriptions' thread ---

    def heard(self) -> None:
        """A command arrived."""
        with self._condition:
            self._arrived += 1
            self._condition.notify_all()

    def episode_started(self) -> None:
        with self._condition:
            self._in_episode, self._episode_fresh = True, True

    def episode_ended(self) -> None:
        with self._condition:
            self._in_episode = False
            self._condition.notify_all()

    # --- the physics thread ---

    def reached(self, now_ns: int) -> bool:
        """Call at each instant before its messages go out. True when `now_ns` is a tick of an
        episode whose commands come every tick: sim time then holds (`hold`) once the tick's
        messages are out."""
        if not self.ticks.due(now_ns):
            return False
        with self._condition:
            commanding = self._in_episode and (self._arrived > self._at_tick
                                               or self._episode_fresh)
            self._at_tick, self._episode_fresh = self._arrived, False
        return commanding

    def hold(self, stopping=lambda: False) -> bool:
        """Wait for the command of the tick just reached, or the episode's end; False when
        neither came in time."""
        started = time.monotonic()
        deadline = started + self.timeout_s
        with self._condition:
            while self._arrived == self._at_tick and self._in_episode and not stopping():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._condition.wait(min(left, 0.05))  # looks at `stopping` now and then
            answered = self._arrived > self._at_tick or not self._in_episode
        self.holds += 1
        self.timeouts += not answered
        self.held_s += time.monotonic() - started
        return answered
