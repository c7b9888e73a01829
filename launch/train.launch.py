"""HIL-SERL training: robot (simulated or real), kinematics, reward classifier, actor and learner.

    ros2 launch hilserl_bringup train.launch.py sim:=true

The node list lives in hilserl_bringup.graph, shared with the runner for machines without ROS
(`run_graph train sim:=true`). `ros2 launch hilserl_bringup train.launch.py --show-args` lists
the arguments.
"""
from hilserl_bringup.launch_description import generate


def generate_launch_description():
    return generate('train')
