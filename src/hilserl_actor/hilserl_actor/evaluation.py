"""Evaluation rounds: which episodes are deterministic evaluations, and a round's record
(its figures from hilserl_common.figures.evaluation_round, as the console shows them)."""
import time
from typing import Optional

from hilserl_actor.config import ActorConfig
from hilserl_common.figures import evaluation_round


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
        return {'after_train_episodes': self.train_episodes, **evaluation_round(records),
                'wall_time': time.time()}
