"""Test support shared by every package's tests: the probe node that plays the rest of the graph
beside the nodes under test."""
import threading
from typing import Optional

import rclpy
from rclpy.executors import SingleThreadedExecutor


class ProbeNode:
    """A test-side rclpy node in a context of its own, so it never shares state with another
    test's nodes. Spin it with `spin_in_background()` (a daemon thread) or call
    `executor.spin_once` yourself; `close()` ends the thread, the node and the context."""

    def __init__(self, name: str, namespace: str = ''):
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(name, namespace=namespace, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread: Optional[threading.Thread] = None

    def spin_in_background(self):
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def close(self):
        self.executor.shutdown()  # also ends executor.spin in the thread
        if self.thread is not None:
            self.thread.join(timeout=5)
        self.node.destroy_node()
        self.context.try_shutdown()
