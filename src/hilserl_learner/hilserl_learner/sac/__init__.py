"""SAC + RLPD: losses and targets, and the agent that owns networks, optimisers
and the update step."""
