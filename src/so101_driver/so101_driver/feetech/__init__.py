"""The Feetech STS3215 serial bus: the control table and a bus that counts and survives faults.

Protocol logic only; no ROS import (the nodes in `follower/` and `leader/` are thin shells).
"""
