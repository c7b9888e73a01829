"""The learner's loop, without ROS: it takes checked transitions from any thread, stores them
(online buffer, demo buffer for interventions, on-disk journal), runs exactly `utd_ratio` critic
updates per env step received (never ahead of the data: it rests while none comes) and the
actor/temperature at their period, and at their periods hands out policy weights, statistics and
checkpoints.

Threads: `submit` is called by the node's subscription callbacks and only appends to a queue, so
actors are never blocked. Everything else runs in the training thread (`run`), which also takes
weight snapshots and checkpoints, so nothing reads parameters while they change.
"""
import logging
import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch

from hilserl_common.run_layout import POLICY_FILE
from hilserl_learner.checkpoint.store import (
    load_checkpoint,
    save_checkpoint,
    set_aside_previous_run,
)
from hilserl_learner.config import LearnerConfig
from hilserl_learner.ingest.validation import GripperTogglePenalty
from hilserl_learner.policy.weights import serialize_policy
from hilserl_learner.replay.buffer import (
    FEATURE_FIELDS,
    ReplayBuffer,
    Transition,
    sample_mixed,
    stack,
    training_fields,
)
from hilserl_learner.replay.features import FeatureCache
from hilserl_learner.replay.journal import TO_DEMO, TransitionJournal
from hilserl_learner.sac.agent import SACAgent
from hilserl_learner.training.statistics import RateWindow, learner_stats

LOGGER = logging.getLogger(__name__)
MAX_INGEST_PER_STEP = 64  # transitions stored per loop turn, so updates keep going under load
FEATURE_CACHE_SIZE = 256  # recent images whose backbone features are kept


@dataclass
class Submitted:
    transition: Transition
    actor_id: str
    episode_id: int
    first_step: bool  # step 0 of its episode


@dataclass
class PolicyWeightsSnapshot:
    data: bytes
    sha256: str
    version: int
    optimization_step: int


class Learner:
    def __init__(self, config: LearnerConfig, agent: Optional[SACAgent] = None,
                 demos: Sequence[Transition] = ()):
        self.config = config
        self.agent = agent or SACAgent(config)
        feature_shape = (self.agent.encoder.feature_shape
                         if self.agent.cached_features else None)
        # With stored features, updates never read images: the buffers keep only the features
        # (the journal keeps the images on disk).
        images = feature_shape is None
        self.online = ReplayBuffer(config.online_capacity, feature_shape, store_images=images,
                                   state_dim=config.state_dim)
        self.demo = ReplayBuffer(config.demo_capacity, feature_shape, store_images=images,
                                 state_dim=config.state_dim)
        self.fields = training_fields(self.agent.cached_features)
        self.rng = np.random.default_rng(config.seed)
        self.run_dir = Path(config.run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if not config.resume:
            set_aside_previous_run(self.run_dir, ('journal', 'checkpoint', 'checkpoint.old',
                                                  POLICY_FILE, POLICY_FILE + '.sha256'))
        self.journal = TransitionJournal(str(self.run_dir / 'journal'), config.online_capacity,
                                         config.demo_capacity)
        self.inbox: 'queue.SimpleQueue[Submitted]' = queue.SimpleQueue()
        self.gripper_penalty = GripperTogglePenalty(config.gripper_toggle_penalty)
        self.feature_cache = FeatureCache(self.agent.features, FEATURE_CACHE_SIZE)

        self.env_steps = 0          # online transitions stored
        self.env_steps_by_actor: Counter = Counter()  # the same, per actor_id (several arms)
        self.optimization_step = 0  # critic updates
        self.actor_updates = 0
        self.weights_version = 0
        self.latest_weights = None  # the newest version's PolicyWeightsSnapshot
        self.transitions_dropped = 0  # set by the node (validation happens there)
        self.errors = 0  # failed loop turns (logged)
        self.last_losses: Dict[str, torch.Tensor] = {}
        self.rates = RateWindow()  # updates/s and per env step between statistics rows

        if demos:
            self.add_demos(demos)
        if config.resume:
            self.resume()

    # --- input ---------------------------------------------------------------------------

    def submit(self, transition: Transition, actor_id: str, episode_id: int,
               first_step: bool = False) -> None:
        """Queue a checked transition (any thread, never blocks); `first_step`: step 0 of its
        episode (a restarted actor may reuse the id of the episode it died in)."""
        self.inbox.put(Submitted(transition, actor_id, episode_id, first_step))

    def add_demos(self, demos: Sequence[Transition]) -> None:
        """Demonstrations (from bags): into the demo buffer only, not journaled (the demo cache
        rebuilds them on every start). Episodes are delimited by their last step."""
        episode = 0
        for t in demos:
            t.gripper_penalty = self.gripper_penalty('demo', episode, t.gripper_action)
            episode += int(t.terminated or t.truncated)
        for start in range(0, len(demos), 256):
            chunk = list(demos[start:start + 256])
            self._attach_features(chunk)
            self.demo.add(stack(chunk))

    def ingest(self, limit: int = MAX_INGEST_PER_STEP) -> int:
        """Store up to `limit` queued transitions; returns how many."""
        batch: List[Submitted] = []
        while len(batch) < limit:
            try:
                batch.append(self.inbox.get_nowait())
            except queue.Empty:
                break
        if not batch:
            return 0
        transitions = []
        for item in batch:
            t = item.transition
            t.gripper_penalty = self.gripper_penalty(item.actor_id, item.episode_id,
                                                     t.gripper_action, item.first_step)
            transitions.append(t)
        self._attach_features(transitions)
        columns = stack(transitions)
        to_demo = columns['is_intervention'].copy()
        self.online.add(columns)
        if to_demo.any():
            self.demo.add({k: v[to_demo] for k, v in columns.items()})
        # the episode of each row: the main job takes mis-rewarded episodes out of the
        # journal after a mining round (replay.journal.remove_episodes)
        self.journal.append(columns, to_demo, np.array([item.episode_id for item in batch]),
                            [item.actor_id for item in batch])
        self.env_steps += len(transitions)
        self.env_steps_by_actor.update(item.actor_id for item in batch)
        return len(transitions)

    # --- training ------------------------------------------------------------------------

    def updates_owed(self) -> int:
        """Critic updates owed to the data received: int(utd_ratio * env_steps) minus those done,
        once the online buffer holds `training_starts` transitions (0 before). The learner does
        exactly these and no more, so it rests while no new transitions come (evaluation steps
        are not sent to it); a simulation waits while it owes more (/learner_progress)."""
        if len(self.online) < max(1, self.config.training_starts):
            return 0
        return int(self.config.utd_ratio * self.env_steps) - self.optimization_step

    def _attach_features(self, transitions: List[Transition]) -> None:
        if self.agent.cached_features:
            self.feature_cache.attach(transitions)

    def train_step(self) -> bool:
        """One critic update (plus actor/temperature when due); False when none is owed."""
        if self.updates_owed() <= 0:
            return False
        if self.optimization_step == 0 and self.config.state_min_std > 0:
            self._fit_state_scale()
        batch = sample_mixed(self.online, self.demo, self.config.batch_size,
                             self.config.demo_ratio, self.rng, self.fields)
        update_actor = (self.optimization_step + 1) % self.config.actor_update_period == 0
        losses = self.agent.update(self.agent.batch_to_tensors(batch), update_actor)
        self.optimization_step += 1
        self.actor_updates += int(update_actor)
        self.last_losses.update(losses)
        return True

    def _fit_state_scale(self) -> None:
        """Before the first update: the state statistics of what the buffers hold (demos and
        the first online steps), fixed from then on (they travel with the weights)."""
        states = [buffer.data['state'][:len(buffer)] for buffer in (self.online, self.demo)
                  if len(buffer)]
        self.agent.fit_state_scale(torch.from_numpy(np.concatenate(states)).to(
            self.agent.device), self.config.state_min_std)
        LOGGER.info('state standardised by the statistics of %d stored transitions',
                    sum(len(s) for s in states))

    def run(self, stop: threading.Event,
            on_weights: Callable[[PolicyWeightsSnapshot], None] = lambda w: None,
            on_stats: Callable[[Dict], None] = lambda s: None,
            on_progress: Callable[[int, int, int], None] = lambda *p: None) -> None:
        """Train until `stop` is set; weights (when they changed), stats, progress (env steps,
        updates, updates owed) and checkpoints at their periods, and a checkpoint on the way
        out."""
        cfg = self.config
        next_weights = next_stats = next_progress = time.monotonic()
        next_checkpoint = time.monotonic() + cfg.checkpoint_period_s
        on_weights(self.snapshot_weights())
        try:
            while not stop.is_set():
                try:
                    self.ingest()
                    trained = self.train_step()
                except Exception:  # noqa: BLE001 - a failed step must not end training
                    self.errors += 1
                    LOGGER.exception('learner step failed (%d so far); going on', self.errors)
                    stop.wait(0.5)
                    continue
                now = time.monotonic()
                if now >= next_weights and self.weights_changed():
                    on_weights(self.snapshot_weights())
                    next_weights = now + cfg.weights_period_s
                if now >= next_stats:
                    on_stats(self.stats())
                    next_stats = now + cfg.stats_period_s
                if now >= next_progress:
                    on_progress(self.env_steps, self.optimization_step, self.updates_owed())
                    next_progress = now + cfg.progress_period_s
                if now >= next_checkpoint:
                    self.checkpoint()
                    next_checkpoint = time.monotonic() + cfg.checkpoint_period_s
                if not trained:
                    stop.wait(0.005)
        finally:
            while self.ingest():
                pass
            self.checkpoint()

    def weights_changed(self) -> bool:
        """True when updates happened since the newest weights version: a resting learner (no
        new data, e.g. during an evaluation round) sends no new version of the same policy."""
        return (self.latest_weights is None
                or self.latest_weights.optimization_step != self.optimization_step)

    def snapshot_weights(self) -> PolicyWeightsSnapshot:
        """A new weights version of the current policy (for the actors), kept as the latest."""
        self.weights_version += 1
        data, digest = serialize_policy(self.agent.policy_state_dict(), self.config,
                                        self.agent.encoder.backbone.identity,
                                        self.weights_version, self.optimization_step)
        self.latest_weights = PolicyWeightsSnapshot(data, digest, self.weights_version,
                                                    self.optimization_step)
        return self.latest_weights

    def save_policy(self) -> Path:
        """The newest policy version sent to the actors (at most `weights_period_s` of updates
        behind) as `<run_dir>/policy.safetensors` (+ `.sha256`), for evaluation runs without a
        learner (`Policy.from_file`). A version then names one set of weights, in the file too:
        the main job counts an evaluation round of the saved version as the saved policy's."""
        snapshot = self.latest_weights or self.snapshot_weights()
        path = self.run_dir / POLICY_FILE
        temporary = path.with_suffix('.tmp')
        temporary.write_bytes(snapshot.data)
        temporary.replace(path)
        path.with_name(POLICY_FILE + '.sha256').write_text(snapshot.sha256 + '\n')
        return path

    # --- statistics ----------------------------------------------------------------------

    def stats(self) -> Dict:
        """The row of `learner_stats` (statistics.py)."""
        return learner_stats(self)

    # --- persistence ---------------------------------------------------------------------

    def counters(self) -> Dict:
        return {'optimization_step': self.optimization_step, 'actor_updates': self.actor_updates,
                'env_steps': self.env_steps, 'weights_version': self.weights_version,
                'journal_count': self.journal.count,
                'env_steps_by_actor': dict(self.env_steps_by_actor)}

    def checkpoint(self) -> None:
        start = time.monotonic()
        save_checkpoint(self.run_dir / 'checkpoint', self.agent, self.counters(),
                        self.rng.bit_generator.state)
        self.save_policy()
        self.journal.prune()
        LOGGER.info('checkpoint at update %d, %d env steps (%.2f s)', self.optimization_step,
                    self.env_steps, time.monotonic() - start)

    def resume(self) -> None:
        """Networks, optimisers, temperature and counters from the checkpoint; both buffers
        from the journal (every transition stored, including those after the checkpoint)."""
        counters, rng_state = load_checkpoint(self.run_dir / 'checkpoint', self.agent)
        if counters is None:
            LOGGER.warning('resume: no checkpoint in %s yet; networks start fresh',
                           self.run_dir / 'checkpoint')
            counters = {}
        else:
            self.rng.bit_generator.state = rng_state
        self.optimization_step = counters.get('optimization_step', 0)
        self.actor_updates = counters.get('actor_updates', 0)
        self.weights_version = counters.get('weights_version', 0)
        stored = 0
        for chunk in self.journal.replay():
            to_demo = chunk.pop(TO_DEMO)
            if not self.agent.cached_features:
                for name in FEATURE_FIELDS:
                    chunk.pop(name, None)
            elif chunk.get('features', np.empty(0)).shape[1:] != self.online.feature_shape:
                # journaled by a run that did not cache features, or with another image head
                chunk['features'] = self.agent.features(chunk['image'])
                chunk['next_features'] = self.agent.features(chunk['next_image'])
            self.online.add(chunk)
            if to_demo.any():
                self.demo.add({k: v[to_demo] for k, v in chunk.items()})
            stored += len(to_demo)
        self.env_steps = max(self.journal.count, counters.get('env_steps', 0))
        # those of the checkpoint, and those journaled after it
        self.env_steps_by_actor = (Counter(counters.get('env_steps_by_actor', {}))
                                   + self.journal.actor_rows(counters.get('journal_count', 0)))
        self.rates = RateWindow(self.optimization_step, self.env_steps)  # rates of this run
        LOGGER.info('resumed at update %d with %d env steps (%d transitions replayed from the '
                    'journal)', self.optimization_step, self.env_steps, stored)
