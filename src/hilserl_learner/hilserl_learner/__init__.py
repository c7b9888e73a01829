"""SAC + RLPD learner for HIL-SERL: networks, updates, replay and demo buffers, demo loading
from bags, checkpoints and weight broadcast."""
