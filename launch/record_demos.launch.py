"""Demonstrations: the follower mirrors the leader while the episode topics are recorded.

    ros2 launch hilserl_bringup record_demos.launch.py sim:=true

The node list lives in hilserl_bringup.graph, shared with the runner for machines without ROS
(`run_graph record_demos sim:=true`).
`ros2 launch hilserl_bringup record_demos.launch.py --show-args` lists the arguments.
"""
from hilserl_bringup.launch_description import generate


def generate_launch_description():
    return generate('record_demos')
