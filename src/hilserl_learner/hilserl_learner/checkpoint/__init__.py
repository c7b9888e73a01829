"""Checkpoints of networks, optimisers, temperature and counters."""
