"""Image success classifier for HIL-SERL rewards: model, datasets from bags, training and
evaluation commands, and the serving node."""
