"""What the console knows: the newest of everything the operator watches, gathered from the
graph's topics (as plain dicts, see hilserl_console.messages) and sent to the pages as JSON.

No ROS here. Written by the node's callbacks, read by the web server's thread: every method
takes the lock. Each part of the page has a version, so a page is sent only what changed.
"""
import collections
import threading
import time
from typing import Dict, List, Optional

from hilserl_common.figures import (
    MOVING_AVERAGE_EPISODES,
    evaluation_round,
    intervention_share,
    mean_return,
    success_share,
    updates_owed,
    updates_per_env_step,
)
from hilserl_common.run_layout import EPISODE_FILES, RunLayout

# /diagnostics levels (diagnostic_msgs/DiagnosticStatus)
LEVELS = {0: 'ok', 1: 'warn', 2: 'error', 3: 'stale'}
PROBLEM_LOG = 100          # diagnostics problems kept for the page
LEARNER_HISTORY = 300      # learner_stats points kept for its plot
EPISODE_FIELDS = ('episode', 'mode', 'success', 'return', 'length', 'intervention_steps',
                  'intervention_rate', 'policy_version', 'duration_s')


class ConsoleState:
    def __init__(self, history_episodes: int = 1000,
                 moving_average_episodes: int = MOVING_AVERAGE_EPISODES, clock=time.time):
        self._lock = threading.Lock()
        self._clock = clock
        self.window = moving_average_episodes
        self.versions: Dict[str, int] = collections.defaultdict(int)
        self.status: dict = {}
        self.leader_engaged: Optional[bool] = None
        self.reward: dict = {'probability': None, 'threshold': None, 'success': None}
        self.trace: List[list] = []        # [stamp s, P(success)] of the current episode
        self.given: List[list] = []        # [stamp s, reward given] of the current episode
        self.episodes = collections.deque(maxlen=history_episodes)
        self.episodes_added = 0            # each row's 'index': what a page has had
        self.mode_counts: Dict[str, int] = collections.defaultdict(int)
        self.learner: dict = {}
        self.learner_history = collections.deque(maxlen=LEARNER_HISTORY)
        self.learner_rows = collections.deque(maxlen=LEARNER_HISTORY)  # for windowed figures
        self.diagnostics: Dict[str, dict] = {}   # name -> newest status
        self.problems = collections.deque(maxlen=PROBLEM_LOG)
        self.frames: Dict[str, dict] = {}        # camera -> {'seq', 'stamp', 'jpeg', ...}
        self.commands = collections.deque(maxlen=20)

    def _changed(self, part: str):
        self.versions[part] += 1

    # --- inputs ----------------------------------------------------------------------------

    def on_status(self, status: dict) -> None:
        """The actor's step (hilserl_interfaces/ActorStatus): a new episode clears the traces."""
        with self._lock:
            if status.get('episode') != self.status.get('episode'):
                self.trace, self.given = [], []
            if status.get('step', 0) > 0 and (not self.given or self.given[-1][0]
                                              < status['stamp']):
                self.given.append([status['stamp'], status['reward']])
            self.status = status
            self._changed('status')

    def on_reward(self, prediction: dict) -> None:
        """The classifier's verdict on one frame (hilserl_interfaces/RewardPrediction)."""
        with self._lock:
            self.reward = {k: prediction[k] for k in ('probability', 'threshold', 'success')}
            self.trace.append([prediction['stamp'], prediction['probability']])
            self._changed('status')

    def on_intervention(self, engaged: bool) -> None:
        with self._lock:
            if engaged != self.leader_engaged:
                self.leader_engaged = engaged
                self._changed('status')

    def on_episode(self, record: dict) -> None:
        """A finished episode (episode_stats, or a record of the run's files at start); one
        already known (same mode and number) is not added twice. The actor numbers episodes
        across modes (the demonstrations first): a row's 'number' counts its own mode's from 1,
        as the report counts training episodes, and the averages are of its own mode."""
        row = {k: record.get(k) for k in EPISODE_FIELDS}
        if row['intervention_steps'] is None:  # an older record: from its rate
            row['intervention_steps'] = round((row['intervention_rate'] or 0.0) * row['length'])
        with self._lock:
            if any(e['episode'] == row['episode'] and e['mode'] == row['mode']
                   for e in self.episodes):
                return
            same_mode = [e for e in self.episodes if e['mode'] == row['mode']][-self.window + 1:]
            window = same_mode + [row] if self.window > 1 else [row]
            row['success_avg'] = success_share(window)
            row['intervention_share_avg'] = intervention_share(window)
            row['return_avg'] = mean_return(window)
            self.mode_counts[row['mode']] += 1
            row['number'] = self.mode_counts[row['mode']]
            row['index'] = self.episodes_added
            self.episodes_added += 1
            self.episodes.append(row)
            self._changed('episodes')

    def on_learner(self, stats: dict) -> None:
        with self._lock:
            self.learner = stats
            self.learner_rows.append(stats)
            self.learner_history.append([stats['stamp'], stats['critic_loss'],
                                         stats['actor_loss'], stats['temperature'],
                                         stats['updates_per_s']])
            self._changed('learner')

    def on_diagnostics(self, statuses: List[dict]) -> None:
        """One /diagnostics array: a status that turns to warn/error/stale, or changes its
        message while not ok, goes into the problem log (repeats every second do not)."""
        with self._lock:
            for status in statuses:
                before = self.diagnostics.get(status['name'])
                self.diagnostics[status['name']] = status
                new = before is None or (before['level'], before['message']) != (
                    status['level'], status['message'])
                if new and (status['level'] != 'ok' or (before and before['level'] != 'ok')):
                    self.problems.append({**status, 'time': self._clock()})
            self._changed('diagnostics')

    def on_frame(self, camera: str, stamp_s: float, jpeg: bytes, age_ms: float) -> None:
        """A camera frame; `age_ms`: how long after its stamp it arrived, on the clock the
        stamp was taken on (the node's: sim time in a simulation slower than real time)."""
        with self._lock:
            seq = self.frames.get(camera, {}).get('seq', 0) + 1
            self.frames[camera] = {'seq': seq, 'stamp': stamp_s, 'jpeg': jpeg,
                                   'age_ms': age_ms, 'received': self._clock()}

    def on_command(self, name: str, accepted: bool, message: str) -> None:
        with self._lock:
            self.commands.append({'command': name, 'accepted': accepted, 'message': message,
                                  'time': self._clock()})
            self._changed('status')

    # --- outputs -----------------------------------------------------------------------------

    def frames_after(self, seen: Dict[str, int]) -> List[dict]:
        """The cameras' newest frames a page has not had (`seen`: camera -> seq sent)."""
        with self._lock:
            return [dict(frame, camera=camera) for camera, frame in self.frames.items()
                    if frame['seq'] > seen.get(camera, 0)]

    def update_for(self, sent_versions: Dict[str, int], episodes_sent: int) -> dict:
        """The parts that changed since `sent_versions` (updated in place), as JSON-ready
        values; of the episodes, those added after the first `episodes_sent` only."""
        with self._lock:
            parts = {}
            for part, version in self.versions.items():
                if sent_versions.get(part) != version:
                    sent_versions[part] = version
                    parts[part] = self._part(part, episodes_sent)
            return parts

    def _part(self, part: str, episodes_sent: int):
        if part == 'status':
            return {'actor': self.status, 'leader_engaged': self.leader_engaged,
                    'reward': self.reward, 'trace': self.trace, 'given': self.given,
                    'commands': list(self.commands)}
        if part == 'episodes':
            episodes = list(self.episodes)
            return {'total': self.episodes_added,
                    'new': [e for e in episodes if e['index'] >= episodes_sent],
                    'eval_rounds': evaluation_rounds(episodes)}
        if part == 'learner':
            return {'latest': self.learner, 'history': list(self.learner_history),
                    'updates_per_env_step': updates_per_env_step(list(self.learner_rows)),
                    'updates_owed': updates_owed(self.learner)}
        return {'current': sorted((s for s in self.diagnostics.values()
                                   if s['level'] != 'ok'), key=lambda s: s['name']),
                'log': list(self.problems)}

    def snapshot(self) -> dict:
        """Everything at once (GET /state): for scripts and tests."""
        return self.update_for({}, 0)


def run_history(output_dir: str) -> List[dict]:
    """The episodes a run's directory already holds (after a restart), in the order they
    happened: the actor numbers them across modes."""
    if not output_dir:
        return []
    layout = RunLayout(output_dir)
    records = [r for mode in EPISODE_FILES for r in layout.episodes(mode)]
    return sorted(records, key=lambda r: r.get('episode', 0))


def evaluation_rounds(episodes: List[dict]) -> List[dict]:
    """Runs of consecutive evaluation episodes (the actor's evaluation rounds), with the
    figures the actor writes for a round; the last one may still be going on."""
    rounds, current, train_episodes = [], [], 0
    for episode in episodes + [None]:
        if episode is not None and episode['mode'] == 'eval':
            current.append(episode)
            continue
        if current:
            rounds.append({'first_episode': current[0]['episode'],
                           'after_train_episodes': train_episodes,
                           **evaluation_round(current)})
            current = []
        if episode is not None and episode['mode'] == 'train':  # counted past the history
            train_episodes = episode.get('number', train_episodes + 1)
    return rounds
