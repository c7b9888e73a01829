"""The learner's statistics row, published on `learner_stats` and written to its log: counters,
buffer sizes, the last losses, and the update rate since the previous row."""
import time
from typing import Dict


class RateWindow:
    """Critic updates per second since the previous call, and per env step over the window
    since env steps last arrived. While none arrive (an evaluation round sends none, and the
    learner rests) the per-step figure stays that of the last window with steps: a window
    without steps has no rate per step, and reading 0 there looked like a learner falling
    behind. Updates done meanwhile count towards the next window with steps."""

    def __init__(self, updates: int = 0, env_steps: int = 0):
        self.since = (time.monotonic(), updates)   # (time, updates) of the previous call
        self.steps_since = (updates, env_steps)    # (updates, env steps) when steps last came
        self.per_step = 0.0

    def measure(self, updates: int, env_steps: int):
        now = time.monotonic()
        then, updates_then = self.since
        self.since = (now, updates)
        per_second = (updates - updates_then) / max(now - then, 1e-6)
        updates_before, steps_before = self.steps_since
        if env_steps > steps_before:
            self.per_step = (updates - updates_before) / (env_steps - steps_before)
            self.steps_since = (updates, env_steps)
        return per_second, self.per_step


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
        'env_steps_by_actor': dict(learner.env_steps_by_actor),
        'transitions_dropped': learner.transitions_dropped,
        'online_buffer_size': len(learner.online),
        'demo_buffer_size': len(learner.demo),
        'critic_loss': losses.get('critic_loss', float('nan')),
        'actor_loss': losses.get('actor_loss', float('nan')),
        'temperature': learner.agent.temperature.item(),
        'gripper_critic_loss': losses.get('gripper_critic_loss', float('nan')),
        'q_mean': losses.get('q_mean', float('nan')),
        'entropy': losses.get('entropy', float('nan')),
        # actor_loss = actor_entropy_term - actor_q_term + actor_bc_term (sac.agent.update_actor)
        'actor_entropy_term': losses.get('actor_entropy_term', float('nan')),
        'actor_q_term': losses.get('actor_q_term', float('nan')),
        'actor_bc_term': losses.get('actor_bc_term', float('nan')),
        'updates_per_s': updates_per_s,
        'effective_utd': effective_utd,
        'effective_utd_total': learner.optimization_step / max(learner.env_steps, 1),
        'utd_ratio': learner.config.utd_ratio,
        'updates_owed': learner.updates_owed(),
        'weights_version': learner.weights_version,
        'skipped_nonfinite_steps': learner.agent.nonfinite_losses,
        'loop_errors': learner.errors,
    }
