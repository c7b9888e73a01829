"""The SO-101 leader arm: read by hand with torque off, and the operator's intervention flag."""
