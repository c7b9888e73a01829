"""Parameters, image messages and the node start-up work over real rclpy."""
import dataclasses
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import rclpy

from hilserl_common.config import ConfigError, length, param, positive
from hilserl_common.images import from_msg, to_msg
from hilserl_common.node import TEARDOWN_DEADLINE_S
from hilserl_common.params import load_config


@dataclasses.dataclass(frozen=True)
class RateConfig:
    rate_hz: float = param(30.0, 'publish rate', positive)
    bounds: list = param([0.1, 0.2, 0.3], 'bounds', length(3))
    name: str = param('arm', 'a name')


@pytest.fixture
def context():
    ctx = rclpy.Context()
    yield ctx
    ctx.try_shutdown()


def make_node(context, *overrides):
    args = ['--ros-args'] + [a for o in overrides for a in ('-p', o)]
    rclpy.init(args=args, context=context)
    return rclpy.create_node('example', context=context)


def test_parameters_from_the_command_line_are_validated(context):
    node = make_node(context, 'rate_hz:=10', 'bounds:=[1.0, 2.0, 3.0]')
    config = load_config(node, RateConfig)
    assert config == RateConfig(rate_hz=10.0, bounds=[1.0, 2.0, 3.0], name='arm')
    assert node.describe_parameter('rate_hz').description == 'publish rate'
    node.destroy_node()


def test_a_bad_parameter_raises_a_config_error(context):
    node = make_node(context, 'rate_hz:=-5.0')
    with pytest.raises(ConfigError, match=r"'rate_hz' = -5.0 .*> 0"):
        load_config(node, RateConfig)
    node.destroy_node()


def test_image_messages_round_trip():
    image = np.random.default_rng(1).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    msg = to_msg(image, frame_id='wrist_camera')
    assert (msg.height, msg.width, msg.step, msg.encoding) == (48, 64, 192, 'rgb8')
    assert np.array_equal(from_msg(msg), image)
    msg.data = msg.data[:-1]
    with pytest.raises(ValueError, match='bytes'):
        from_msg(msg)


def test_a_node_with_a_bad_parameter_exits_with_a_message_not_a_traceback(tmp_path):
    script = tmp_path / 'example_node.py'
    script.write_text(textwrap.dedent('''
        import dataclasses
        from rclpy.node import Node
        from hilserl_common.config import param, positive
        from hilserl_common.node import main_for
        from hilserl_common.params import load_config

        @dataclasses.dataclass(frozen=True)
        class Config:
            rate_hz: float = param(30.0, 'publish rate', positive)

        class ExampleNode(Node):
            def __init__(self):
                super().__init__('example')
                self.config = load_config(self, Config)

        main_for(ExampleNode)()
    '''))
    result = subprocess.run([sys.executable, str(script), '--ros-args', '-p', 'rate_hz:=0.0'],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "configuration error" in result.stderr and "'rate_hz' = 0.0" in result.stderr
    assert 'Traceback' not in result.stderr


def test_a_node_whose_context_is_shut_down_unseen_still_exits(tmp_path):
    """rclpy's signal thread shuts the context down below the executor's notice when its wake-up
    came first (the race that held a node on a stopped sim clock for 10 s). Here the context is
    shut down the same way, from another thread, with nothing left to wake the executor."""
    script = tmp_path / 'quiet_node.py'
    script.write_text(textwrap.dedent('''
        import threading
        from rclpy.node import Node
        from hilserl_common.node import main_for

        class QuietNode(Node):  # no timer, no subscription: nothing ever wakes its executor
            def __init__(self):
                super().__init__('quiet')
                threading.Timer(1.0, self.context.handle.shutdown).start()

        main_for(QuietNode)()
    '''))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=20)
    assert result.returncode == 0, result.stderr


def test_a_node_whose_ros_teardown_hangs_still_exits_with_its_code(tmp_path):
    """rclpy's teardown now and then never returns (inside destroy_node, with Python's lock held,
    so no Python code can act). Here it hangs the same way, after the node's own shutdown step
    chose exit code 3: the process must still end, with that code, and say where it was."""
    script = tmp_path / 'stuck_node.py'
    script.write_text(textwrap.dedent('''
        import ctypes
        import threading
        from hilserl_common.node import Node, main_for

        class StuckNode(Node):
            def __init__(self):
                super().__init__('stuck')
                threading.Timer(1.0, self.context.handle.shutdown).start()

            def destroy_node(self):
                self.exit_code = 3  # as a failed safety step would
                super().destroy_node()

            def destroy_publisher(self, publisher):  # rclpy's teardown calls it
                ctypes.PyDLL(None).sleep(60)  # a C call that keeps Python's lock

        main_for(StuckNode)()
    '''))
    started = time.monotonic()
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=60)
    took = time.monotonic() - started
    assert result.returncode == 3, result.stderr
    assert took < 1.0 + TEARDOWN_DEADLINE_S + 10, took
    assert 'Timeout' in result.stderr and 'destroy_publisher' in result.stderr, result.stderr
