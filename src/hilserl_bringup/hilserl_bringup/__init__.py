"""Launch files, the node-graph description, a runner for machines without ROS, configuration and
monitoring set-ups of the SO-101 HIL-SERL workspace.
"""
