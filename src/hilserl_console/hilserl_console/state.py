"""What the console knows: the newest of everything the operator watches, gathered from the
graph's topics (as plain dicts, see hilserl_console.messages) and sent to the pages as JSON.

No ROS here. Written by the node's callbacks, read by the web server's thread: every method
takes the lock. Each part of the page has a version, so a page is sent only what changed.
"""
import collections
import threading
import time
from typing import Dict, List, Optional

from hilserl_common.run_layout import EPISODE_FILES, RunLayout

# /diagnostics levels (diagnostic_msgs/DiagnosticStatus)
LEVELS = {0: 'ok', 1: 'warn', 2: 'error', 3: 'stale'}
PROBLEM_LOG = 100          # diagnostics problems kept for the page
LEARNER_HISTORY = 300      # learner_stats points kept for its plot
EPISODE_FIELDS = ('episode', 'mode', 'success', 'return', 'length', 'intervention_rate',
                  'policy_version', 'duration_s')


class ConsoleState:
    def __init__(self, history_episodes: int = 1000, moving_average_episodes: int = 10,
                 clock=time.time):
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
        self.learner: dict = {}
        self.learner_history = collections.deque(maxlen=LEARNER_HISTORY)
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
        already known (same mode and number) is not added twice."""
        row = {k: record.get(k) for k in EPISODE_FIELDS}
        with self._lock:
            if any(e['episode'] == row['episode'] and e['mode'] == row['mode']
                   for e in self.episodes):
                return
            same_mode = [e for e in self.episodes if e['mode'] == row['mode']][-self.window + 1:]
            window = same_mode + [row] if self.window > 1 else [row]
            row['success_avg'] = mean(float(bool(e['success'])) for e in window)
            row['intervention_rate_avg'] = mean(e['intervention_rate'] or 0.0 for e in window)
            row['return_avg'] = mean(e['return'] or 0.0 for e in window)
            row['index'] = self.episodes_added
            self.episodes_added += 1
            self.episodes.append(row)
            self._changed('episodes')

    def on_learner(self, stats: dict) -> None:
        with self._lock:
            self.learner = stats
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

    def on_frame(self, camera: str, stamp_s: float, jpeg: bytes) -> None:
        with self._lock:
            seq = self.frames.get(camera, {}).get('seq', 0) + 1
            self.frames[camera] = {'seq': seq, 'stamp': stamp_s, 'jpeg': jpeg,
                                   'received': self._clock()}

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
            return {'latest': self.learner, 'history': list(self.learner_history)}
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
    """Runs of consecutive evaluation episodes (the actor's evaluation rounds) and their
    success rate; the last one may still be going on."""
    rounds, current = [], []
    for episode in episodes + [None]:
        if episode is not None and episode['mode'] == 'eval':
            current.append(episode)
            continue
        if current:
            successes = sum(bool(e['success']) for e in current)
            rounds.append({'first_episode': current[0]['episode'], 'episodes': len(current),
                           'success_rate': successes / len(current),
                           'policy_version': current[-1]['policy_version']})
            current = []
    return rounds


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0
