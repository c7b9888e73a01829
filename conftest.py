"""Keeps every test run's ROS 2 traffic to itself: localhost discovery and a domain id drawn
per run, never the workspace's default, so parallel runs, a training run beside the suite and any
other ROS graph on the network never meet."""
import os

from hilserl_testing.nodes import private_ros_domain

private_ros_domain()
os.environ.setdefault('MUJOCO_GL', 'egl')
