"""Keeps every test run's ROS 2 traffic to itself: localhost discovery and a domain id drawn
per run, so parallel runs and any other ROS graph on the network never meet: never the
workspace's own default (scripts/env.sh), so the suite can run beside a training run."""
import os
import random

os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
WORKSPACE_DOMAIN_ID = 42
os.environ['ROS_DOMAIN_ID'] = str(random.SystemRandom().choice(
    [d for d in range(1, 101) if d != WORKSPACE_DOMAIN_ID]))
os.environ.setdefault('MUJOCO_GL', 'egl')
