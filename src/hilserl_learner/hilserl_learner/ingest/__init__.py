"""Transitions from actors: validation, episode bookkeeping and the gripper toggle penalty."""
