"""Where a run's files live under its output directory: the one list of names that the actor
writes and the main job, the report and the benchmarks read."""
from pathlib import Path

from hilserl_common.records import read_records

# Episode statistics per kind of episode (JSON lines, one record per episode).
EPISODE_FILES = {'train': 'episodes.jsonl', 'eval': 'eval_episodes.jsonl',
                 'record': 'demo_episodes.jsonl'}
EVAL_ROUNDS = 'eval_rounds.jsonl'
LEARNER_DIR = 'learner'
LEARNER_STATS = 'learner_stats.jsonl'
POLICY_FILE = 'policy.safetensors'
REWARD_JOURNAL = 'reward_journal'  # what the reward classifier scored while training


class RunLayout:
    """The files of one run, by what they hold."""

    def __init__(self, output_dir):
        self.root = Path(output_dir)

    def episodes_path(self, mode: str = 'train') -> Path:
        return self.root / EPISODE_FILES[mode]

    def episodes(self, mode: str = 'train') -> list:
        return read_records(str(self.episodes_path(mode)))

    @property
    def eval_rounds_path(self) -> Path:
        return self.root / EVAL_ROUNDS

    def eval_rounds(self) -> list:
        return read_records(str(self.eval_rounds_path))

    @property
    def learner_dir(self) -> Path:
        return self.root / LEARNER_DIR

    @property
    def learner_stats_path(self) -> Path:
        return self.learner_dir / LEARNER_STATS

    def learner_stats(self) -> list:
        return read_records(str(self.learner_stats_path))

    @property
    def policy_path(self) -> Path:
        return self.learner_dir / POLICY_FILE

    @property
    def reward_journal(self) -> Path:
        return self.root / REWARD_JOURNAL
