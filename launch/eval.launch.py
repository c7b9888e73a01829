"""Deterministic evaluation of a trained policy (no learner, no transitions).

    ros2 launch hilserl_bringup eval.launch.py sim:=true

The node list lives in hilserl_bringup.graph, shared with the runner for machines without ROS
(`run_graph eval sim:=true`). `ros2 launch hilserl_bringup eval.launch.py --show-args` lists
the arguments.
"""
from hilserl_bringup.launch_description import generate


def generate_launch_description():
    return generate('eval')
