"""The SO-101 follower arm driver: joint states out, limited joint goals in, torque and stop."""
