"""Evaluation rounds: which episodes are deterministic evaluations, and a round's summary."""
import time
from typing import Optional

import numpy as np

from hilserl_actor.config import ActorConfig
from hilserl_common.figures import success_interval


class EvaluationSchedule:
    """Which episodes are evaluations: eval mode's `eval_episodes`, and in train mode a round
    of `eval_round_episodes` after every `eval_every_episodes` training episodes."""

    def __init__(self, config: ActorConfig, train_episodes: int = 0):
        self.config = config
        self.train_episodes = train_episodes
        self.remaining = config.eval_episodes if config.mode == 'eval' else 0
        self.round = []

    @property
    def evaluating(self) -> bool:
        return self.remaining > 0

    @property
    def finished(self) -> bool:
        return self.config.mode == 'eval' and self.remaining == 0

    def episode_done(self, evaluated: bool, record: dict) -> Optional[dict]:
        """Count an episode; the summary of an evaluation round when this one completed it."""
        if evaluated:
            self.remaining -= 1
            self.round.append(record)
            return self._finish_round() if self.remaining == 0 else None
        if self.config.mode == 'train':
            self.train_episodes += 1
            every = self.config.eval_every_episodes
            if every and self.train_episodes % every == 0:
                self.remaining += self.config.eval_round_episodes
        return None

    def _finish_round(self) -> dict:
        records, self.round = self.round, []
        steps = [r['steps_to_success'] for r in records if r['success']]
        mean_steps = float(np.mean(steps)) if steps else None
        return {'after_train_episodes': self.train_episodes, 'episodes': len(records),
                'success_rate': len(steps) / len(records),
                'success_interval': [round(bound, 4) for bound in
                                     success_interval(len(steps), len(records))],
                'mean_steps_to_success': mean_steps,
                'mean_time_to_success_s':
                    mean_steps / self.config.control_rate_hz if steps else None,
                'policy_version': records[-1]['policy_version'], 'wall_time': time.time()}
