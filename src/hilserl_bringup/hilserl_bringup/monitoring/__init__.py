"""Monitoring: the robot description for rviz2, workspace markers, and the rviz/rqt set-ups."""
