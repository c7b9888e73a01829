"""Keeps every test run's ROS 2 traffic to itself: localhost discovery and a domain id drawn
per run, never the workspace's default, so parallel runs, a training run beside the suite and any
other ROS graph on the network never meet."""
import os

from hilserl_common.dds_shm import remove_unfinished_ports
from hilserl_testing.nodes import private_ros_domain

private_ros_domain()
remove_unfinished_ports()  # a node of this run would hang on one
os.environ.setdefault('MUJOCO_GL', 'egl')
