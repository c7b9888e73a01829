"""One SO-101 arm on its Feetech bus, in joint radians: reading, safe goals, reconnecting."""
