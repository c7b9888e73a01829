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
ROUND_POLICIES = 'round_policies'
REWARD_JOURNAL = 'reward_journal'  # what the reward classifier scored while training
MINED = 'mined'
# The graphs' default robot namespace. In a run with several arms this arm's files are the
# run's own (so a one-arm run looks the same), and each other arm's (actor records, reward
# journal, logs) are in arms/<its robot namespace>/.
DEFAULT_ROBOT = 'so101'
ARMS_DIR = 'arms'


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

    def round_policy_path(self, version: int) -> Path:
        """The policy an evaluation round judged, saved by the actor when the round ended."""
        return self.root / ROUND_POLICIES / f'policy_v{version}.safetensors'

    @property
    def reward_journal(self) -> Path:
        return self.root / REWARD_JOURNAL

    @property
    def mined_dir(self) -> Path:
        """The frames a hard-negative mining round took from this run's reward journal."""
        return self.root / MINED

    def arm(self, robot: str) -> 'RunLayout':
        """The files of one arm of the run, by its robot namespace."""
        return self if robot == DEFAULT_ROBOT else RunLayout(self.root / ARMS_DIR / robot)

    def arms(self) -> dict:
        """{robot namespace: its RunLayout} of every arm that has run: the first, then the
        others in name order."""
        others = sorted(p.name for p in (self.root / ARMS_DIR).glob('*') if p.is_dir())
        return {robot: self.arm(robot) for robot in (DEFAULT_ROBOT, *others)}

    def episodes_of_arms(self, mode: str = 'train') -> list:
        """The episodes of every arm of the run, in the order they ended."""
        by_arm = [layout.episodes(mode) for layout in self.arms().values()]
        if len(by_arm) == 1:
            return by_arm[0]
        return sorted((e for episodes in by_arm for e in episodes),
                      key=lambda e: e.get('wall_time', 0.0))
