"""Keeps every test run's ROS 2 traffic to itself: localhost discovery and a domain id drawn
per run, so parallel runs and any other ROS graph on the network never meet."""
import os
import random

os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ['ROS_DOMAIN_ID'] = str(random.SystemRandom().randint(1, 100))
os.environ.setdefault('MUJOCO_GL', 'egl')
