"""CommandHold: sim time holds at a tick only while commands come every tick, until the tick's
command arrives or the wall-time limit passes."""
import threading
import time

from hilserl_common.stamps import NS_PER_S
from so101_sim.command_hold import CommandHold

ORIGIN_NS = 1_800_000_000 * NS_PER_S
TICK_NS = NS_PER_S // 10


def test_no_hold_until_commands_come_and_none_between_ticks():
    hold = CommandHold(10.0, ORIGIN_NS, timeout_s=1.0)
    assert not hold.reached(ORIGIN_NS)  # nobody commands yet
    hold.heard()
    assert not hold.reached(ORIGIN_NS + 40_000_000)  # not a tick
    assert hold.reached(ORIGIN_NS + TICK_NS)  # a command came in the period before


def test_a_hold_ends_when_the_tick_s_command_arrives():
    hold = CommandHold(10.0, ORIGIN_NS, timeout_s=5.0)
    hold.heard()
    assert hold.reached(ORIGIN_NS)
    answer = threading.Timer(0.1, hold.heard)
    answer.start()
    started = time.monotonic()
    assert hold.hold()
    assert 0.09 < time.monotonic() - started < 2.0
    assert (hold.holds, hold.timeouts) == (1, 0)
    assert hold.reached(ORIGIN_NS + TICK_NS)  # it commanded in that period: hold again


def test_without_the_tick_s_command_the_hold_times_out_once_and_then_runs_free():
    hold = CommandHold(10.0, ORIGIN_NS, timeout_s=0.1)
    hold.heard()
    assert hold.reached(ORIGIN_NS)
    hold.heard()  # the last command of an episode
    assert hold.hold()
    assert hold.reached(ORIGIN_NS + TICK_NS)
    started = time.monotonic()
    assert not hold.hold()  # no command for this tick
    assert time.monotonic() - started >= 0.1
    assert hold.timeouts == 1
    assert not hold.reached(ORIGIN_NS + 2 * TICK_NS)  # nobody commands: no hold


def test_a_stopping_node_ends_a_hold():
    hold = CommandHold(10.0, ORIGIN_NS, timeout_s=30.0)
    hold.heard()
    assert hold.reached(ORIGIN_NS)
    started = time.monotonic()
    assert not hold.hold(stopping=lambda: time.monotonic() - started > 0.1)
    assert time.monotonic() - started < 1.0
