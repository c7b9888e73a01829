"""The control loop's rate on wall-clock time: it keeps its schedule, starts a new one after an
overrun, and a node that stops wakes its sleeper. On sim time (/clock) it ticks on whole periods
of the clock, where the simulation publishes its sensors."""
import threading
import time

import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rosgraph_msgs.msg import Clock

from hilserl_actor.control_rate import ControlRate
from hilserl_common.stamps import NS_PER_S as NS


@pytest.fixture
def node():
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node('control_rate_test', context=context)
    yield node
    node.destroy_node()
    context.try_shutdown()


def test_the_schedule_is_kept_despite_work_in_each_period(node):
    rate = ControlRate(node, 10.0)
    rate.sleep()
    start = time.monotonic()
    for _ in range(10):
        time.sleep(0.03)   # work shorter than the period does not stretch it
        rate.sleep()
    # On schedule: 1.0 s; a sleep of one period after the work would take 1.3 s. Half the
    # difference is slack for a loaded machine's late wake-ups (an overrun needs one 70 ms late).
    assert 0.99 < time.monotonic() - start < 1.15


def test_an_overrun_starts_a_new_schedule_instead_of_rushing(node):
    rate = ControlRate(node, 50.0)
    rate.sleep()
    time.sleep(0.1)        # five periods late
    start = time.monotonic()
    rate.sleep()
    rate.sleep()
    assert time.monotonic() - start > 0.03


def test_destroy_wakes_the_sleeper(node):
    rate = ControlRate(node, 0.5)    # the first sleep would take 2 s
    errors = []

    def loop():
        try:
            rate.sleep()
        except RuntimeError as error:
            errors.append(error)

    thread = threading.Thread(target=loop)
    thread.start()
    time.sleep(0.1)
    rate.destroy()
    thread.join(timeout=1.0)
    assert not thread.is_alive() and errors


def test_on_sim_time_the_ticks_fall_on_whole_periods_of_the_clock():
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node('control_rate_sim', context=context,
                             parameter_overrides=[Parameter('use_sim_time', value=True)])
    clock_node = rclpy.create_node('clock_source', context=context)
    publisher = clock_node.create_publisher(Clock, '/clock', 10)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    spinning = threading.Thread(target=executor.spin, daemon=True)
    spinning.start()
    running = threading.Event()
    running.set()

    def publish_clock():  # 1 ms of sim time per 2 ms of wall time, from an odd phase
        ns = 1000 * NS + 37_000_000
        while running.is_set():
            clock = Clock()
            clock.clock.sec, clock.clock.nanosec = divmod(ns, NS)
            publisher.publish(clock)
            ns += 1_000_000
            time.sleep(0.002)

    clock = threading.Thread(target=publish_clock, daemon=True)
    clock.start()
    try:
        deadline = time.monotonic() + 5.0
        while node.get_clock().now().nanoseconds < 1000 * NS and time.monotonic() < deadline:
            time.sleep(0.01)
        rate = ControlRate(node, 10.0)  # created at an arbitrary instant of the clock
        woken = []
        for _ in range(4):
            rate.sleep()
            woken.append(node.get_clock().now().nanoseconds)
        # Each tick within a few ms of sim time after a whole 100 ms (the clock moves on while
        # the thread wakes), each in the next period: an rclpy Rate ticked from its creation.
        assert [ns % 100_000_000 < 5_000_000 for ns in woken] == [True] * 4, woken
        assert [b // 100_000_000 - a // 100_000_000 for a, b in zip(woken, woken[1:])] == [1] * 3
        rate.destroy()
    finally:
        running.clear()
        clock.join()
        executor.shutdown()
        node.destroy_node()
        clock_node.destroy_node()
        context.try_shutdown()
