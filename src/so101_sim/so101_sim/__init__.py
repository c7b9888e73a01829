"""The MuJoCo simulation of the SO-101 grasp cell: scene, plain-Python cell, scripted grasp,
simulated operator, and the ROS nodes that put them behind the follower/camera/leader topics."""
