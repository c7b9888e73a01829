"""MuJoCo forward and inverse kinematics of the SO-101 gripperframe, closed loop on measured
joints, with the IK/FK service node and EE pose publisher.
"""
