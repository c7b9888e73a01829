"""The learner's tests share a 2-core machine with other work: one torch thread avoids
OpenMP threads spinning against each other (many times slower under load)."""
import torch

torch.set_num_threads(1)
