"""The control loop's rate on wall-clock time: it keeps its schedule, starts a new one after an
overrun, and a node that stops wakes its sleeper."""
import threading
import time

import pytest
import rclpy

from hilserl_actor.control_rate import ControlRate


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
