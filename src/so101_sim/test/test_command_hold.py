"""CommandHold: sim time holds at the ticks of an episode while commands come every tick,
until the tick's command arrives, the episode ends, or the wall-time limit passes."""
import threading
import time

from hilserl_common.stamps import NS_PER_S
from so101_sim.command_hold import CommandHold

ORIGIN_NS = 1_800_000_000 * NS_PER_S
TICK_NS = NS_PER_S // 10


def tick(k):
    return ORIGIN_NS + k * TICK_NS


def test_only_the_ticks_of_an_episode_are_held_from_its_first():
    hold = CommandHold(10.0, ORIGIN_NS, timeout_s=1.0)
    hold.heard()  # a reset's command: no episode yet
    assert not hold.reached(tick(0))
    hold.episode_started()
    assert not hold.reached(tick(0) + 40_000_000)  # not a tick
    assert hold.reached(tick(1))  # the episode's first tick, though nothing was commanded since
    hold.heard()
    assert hold.hold()
    assert hold.reached(tick(2))


def test_a_hold_ends_when_the_tick_s_command_arrives():
    hold = CommandHold(10.0, ORIGIN_NS, timeout_s=5.0)
    hold.episode_started()
    assert hold.reached(tick(0))
    answer = threading.Timer(0.1, hold.heard)
    answer.start()
    started = time.monotonic()
    assert hold.hold()
    assert 0.09 < time.monotonic() - started < 2.0
    assert (hold.holds, hold.timeouts) == (1, 0)


def test_the_episode_s_end_ends_a_hold_at_once():
    hold = CommandHold(10.0, ORIGIN_NS, timeout_s=5.0)
    hold.episode_started()
    assert hold.reached(tick(0))
    threading.Timer(0.05, hold.episode_ended).start()
    started = time.monotonic()
    assert hold.hold()
    assert time.monotonic() - started < 2.0 and hold.timeouts == 0
    hold.heard()  # the next reset's commands
    assert not hold.reached(tick(1))


def test_a_tick_without_a_command_times_out_once_and_then_runs_free():
    hold = CommandHold(10.0, ORIGIN_NS, timeout_s=0.1)
    hold.episode_started()
    assert hold.reached(tick(0))
    started = time.monotonic()
    assert not hold.hold()  # the step paused on stale input: no command
    assert time.monotonic() - started >= 0.1 and hold.timeouts == 1
    assert not hold.reached(tick(1))  # nothing commanded since: no hold
    hold.heard()  # stepping again
    assert hold.reached(tick(2))


def test_a_stopping_node_ends_a_hold():
    hold = CommandHold(10.0, ORIGIN_NS, timeout_s=30.0)
    hold.episode_started()
    assert hold.reached(ORIGIN_NS)
    started = time.monotonic()
    assert not hold.hold(stopping=lambda: time.monotonic() - started > 0.1)
    assert time.monotonic() - started < 1.0
