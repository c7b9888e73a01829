"""The training loop: ingestion of transitions, UTD-paced updates, statistics."""
