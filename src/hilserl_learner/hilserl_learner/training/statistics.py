"""The learner's statistics row, published on `learner_stats` and written to its log: counters,
buffer sizes, the last losses, and the update rate since the previous row."""
import time
from typing import Dict


class RateWindow:
    """Critic updates per second and per env step since the previous call."""

    def __init__(self):
        self.since = (time.monotonic(), 0, 0)  # (time, updates, env steps)

    def measure(self, updates: int, env_steps: int):
        now = time.monotonic()
        then, updates_then, steps_then = self.since
        self.since = (now, updates, env_steps)
        new_updates, new_steps = updates - updates_then, env_steps - steps_then
        per_second = new_updates / max(now - then, 1e-6)
        per_step = new_updates / new_steps if new_steps else 0.0
        return per_second, per_step


def learner_stats(learner) -> Dict:
    """One row for `learner` (a training.learner.Learner)."""
    updates_per_s, effective_utd = learner.rates.measure(learner.optimization_step,
                                                         learner.env_steps)
    losses = {name: float(value) for name, value in learner.last_losses.items()}
    return {
        'time': time.time(),
        'optimization_step': learner.optimization_step,
        'actor_updates': learner.actor_updates,
        'env_steps': learner.env_steps,
        'transitions_dropped': learner.transitions_dropped,
        'online_buffer_size': len(learner.online),
        'demo_buffer_size': len(learner.demo),
        'critic_loss': losses.get('critic_loss', float('nan')),
        'actor_loss': losses.get('actor_loss', float('nan')),
        'temperature': learner.agent.temperature.item(),
        'gripper_critic_loss': losses.get('gripper_critic_loss', float('nan')),
        'q_mean': losses.get('q_mean', float('nan')),
        'entropy': losses.get('entropy', float('nan')),
        'updates_per_s': updates_per_s,
        'effective_utd': effective_utd,
        'effective_utd_total': learner.optimization_step / max(learner.env_steps, 1),
        'utd_ratio': learner.config.utd_ratio,
        'updates_owed': learner.updates_owed(),
        'weights_version': learner.weights_version,
        'skipped_nonfinite_steps': learner.agent.nonfinite_losses,
        'loop_errors': learner.errors,
    }
