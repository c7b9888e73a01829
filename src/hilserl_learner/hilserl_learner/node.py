"""The learner node: a thin ROS shell around `training.learner.Learner`.

In: /transitions (hilserl_interfaces/Transition) from any number of actors, checked and queued
without blocking. Out: /policy_weights (PolicyWeights, latched: reliable + transient_local) at
`weights_period_s` when updates happened since the last version; /learner_stats (LearnerStats)
at `stats_period_s`, also appended as JSON lines to `<run_dir>/learner_stats.jsonl` for the
plotting tools, with a /diagnostics status that warns while the learner falls short of
`utd_ratio`; /learner_progress (LearnerProgress) at `progress_period_s`, which a simulation
waits on to hold that rate. Training, weight snapshots and checkpoints run in the learner's own
thread; shutdown (Ctrl-C, SIGTERM) writes a checkpoint.
"""
import array
import logging
import threading
from pathlib import Path

import numpy as np
import torch
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus

from hilserl_common import qos
from hilserl_common.config import ConfigError
from hilserl_common.diagnostics import status_array
from hilserl_common.episode_labels import demo_recordings
from hilserl_common.images import from_msg
from hilserl_common.node import Node, main_for
from hilserl_common.params import load_config
from hilserl_common.records import append_record
from hilserl_common.run_layout import LEARNER_STATS
from hilserl_interfaces.msg import LearnerProgress, LearnerStats, PolicyWeights, Transition
from hilserl_learner.config import LearnerConfig
from hilserl_learner.demos.loader import DemoSettings, load_demos
from hilserl_learner.ingest.validation import EpisodeBook, InvalidTransition, check_transition
from hilserl_learner.policy.weights import FORMAT
from hilserl_learner.training.learner import Learner, PolicyWeightsSnapshot


class LearnerNode(Node):
    def __init__(self):
        super().__init__('learner')
        # The algorithm logs through `logging` (no ROS there): show it with the node's output.
        logging.basicConfig(level=logging.INFO, format='[learner] %(levelname)s %(message)s')
        self.config = load_config(self, LearnerConfig)
        if self.config.torch_threads:
            torch.set_num_threads(self.config.torch_threads)
        demos = self._load_demos()
        self.learner = Learner(self.config, demos=demos)
        self.get_logger().info(
            f'learner on {self.learner.agent.device}: image backbone '
            f'{self.learner.agent.encoder.backbone.identity}, features cached: '
            f'{self.learner.agent.cached_features}, {len(self.learner.demo)} demo transitions, '
            f'{len(self.learner.online)} online transitions, update '
            f'{self.learner.optimization_step}')
        self.episodes = EpisodeBook()
        self.dropped = 0
        self.stats_path = Path(self.config.run_dir) / LEARNER_STATS
        self.weights_publisher = self.create_publisher(PolicyWeights, '/policy_weights',
                                                       qos.LATCHED)
        self.stats_publisher = self.create_publisher(LearnerStats, '/learner_stats', qos.COMMANDS)
        self.progress_publisher = self.create_publisher(LearnerProgress, '/learner_progress',
                                                        qos.COMMANDS)
        self.diagnostics_publisher = self.create_publisher(DiagnosticArray, '/diagnostics',
                                                           qos.COMMANDS)
        self.create_subscription(Transition, '/transitions', self.on_transition, qos.TRANSITIONS)
        self.stop = threading.Event()
        self.training = threading.Thread(
            target=self.learner.run,
            args=(self.stop, self.publish_weights, self.publish_stats, self.publish_progress),
            name='learner-training', daemon=True)
        self.training.start()

    def _load_demos(self):
        paths = demo_recordings([p.strip() for p in self.config.demo_paths.split(',')
                                 if p.strip()])
        if not paths:
            return []
        try:
            settings = DemoSettings(self.config.control_rate_hz, self.config.action_scale,
                                    self.config.gripper_change_threshold_rad)
            demos = load_demos(paths, self.config.demo_cache_dir, settings)
        except (OSError, ValueError) as error:
            raise ConfigError(f'demo_paths: {error}') from None
        self.get_logger().info(f'{len(demos)} demo transitions from {len(paths)} recording(s)')
        return demos

    # --- in ------------------------------------------------------------------------------

    def on_transition(self, msg: Transition) -> None:
        try:
            transition = check_transition(
                msg.state, from_msg(msg.image), msg.action, msg.gripper_action, msg.reward,
                msg.next_state, from_msg(msg.next_image), msg.terminated, msg.truncated,
                msg.is_intervention, self.config.state_dim)
        except (InvalidTransition, ValueError) as error:
            self._drop(msg, str(error))
            return
        refusal = self.episodes.admit(msg.actor_id, msg.episode_id, msg.step_id,
                                      msg.terminated or msg.truncated)
        if refusal:
            self._drop(msg, refusal)
            return
        self.learner.submit(transition, msg.actor_id, msg.episode_id, msg.step_id == 0)

    def _drop(self, msg: Transition, reason: str) -> None:
        self.dropped += 1
        self.learner.transitions_dropped = self.dropped
        self.get_logger().warning(
            f'dropped transition (actor {msg.actor_id!r}, episode {msg.episode_id}, step '
            f'{msg.step_id}): {reason} [{self.dropped} dropped so far]',
            throttle_duration_sec=2.0)

    # --- out (called from the training thread) ----------------------------------------------

    def _publish(self, publisher, msg) -> None:
        """Publish unless shutting down: Ctrl-C invalidates the context before destroy_node
        stops the training thread, and a publish then raises (the thread's last statistics or
        weights are not worth an error; the checkpoint on the way out keeps them)."""
        if not self.context.ok():
            return
        try:
            publisher.publish(msg)
        except Exception:  # rclpy's RCLError: the context went away between check and call
            if self.context.ok():
                raise

    def publish_weights(self, snapshot: PolicyWeightsSnapshot) -> None:
        msg = PolicyWeights()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.version = snapshot.version
        msg.format = FORMAT
        msg.sha256 = snapshot.sha256
        msg.optimization_step = snapshot.optimization_step
        msg.data = array.array('B', snapshot.data)
        self._publish(self.weights_publisher, msg)

    def publish_stats(self, stats: dict) -> None:
        msg = LearnerStats()
        msg.header.stamp = self.get_clock().now().to_msg()
        for name in ('optimization_step', 'actor_updates', 'env_steps', 'transitions_dropped',
                     'online_buffer_size', 'demo_buffer_size', 'weights_version'):
            setattr(msg, name, int(stats[name]))
        for name in ('critic_loss', 'actor_loss', 'actor_entropy_term', 'actor_q_term',
                     'actor_bc_term', 'entropy', 'temperature', 'gripper_critic_loss',
                     'q_mean', 'updates_per_s', 'effective_utd', 'utd_ratio'):
            setattr(msg, name, float(np.float32(stats[name])))
        msg.updates_owed = int(stats['updates_owed'])
        by_actor = sorted(stats['env_steps_by_actor'].items())
        msg.actor_ids = [actor for actor, _ in by_actor]
        msg.actor_env_steps = [int(steps) for _, steps in by_actor]
        self._publish(self.stats_publisher, msg)
        self._publish(self.diagnostics_publisher, self._pace_status(stats))
        append_record(str(self.stats_path), stats)
        self.get_logger().info(
            f'update {stats["optimization_step"]}, {stats["env_steps"]} env steps, '
            f'{stats["updates_per_s"]:.1f} updates/s, effective UTD '
            f'{stats["effective_utd_total"]:.1f} (set {self.config.utd_ratio:g}), buffers '
            f'{stats["online_buffer_size"]} online / '
            f'{stats["demo_buffer_size"]} demo, critic loss {stats["critic_loss"]:.4f}, '
            f'temperature {stats["temperature"]:.4f}', throttle_duration_sec=30.0)

    def _pace_status(self, stats: dict) -> DiagnosticArray:
        """WARN while the learner is more than a second of data behind utd_ratio (on the real
        arm nothing waits for it: the policy then learns from fewer updates than set)."""
        behind = stats['updates_owed'] > self.config.utd_ratio * 10  # ~1 s at 10 Hz
        message = (f'{stats["updates_owed"]} critic updates behind {self.config.utd_ratio:g} '
                   f'per env step' if behind else 'keeping up')
        values = [(name, f'{stats[name]:.3g}' if isinstance(stats[name], float) else
                   str(stats[name]))
                  for name in ('updates_per_s', 'effective_utd', 'effective_utd_total',
                               'utd_ratio', 'updates_owed', 'env_steps', 'optimization_step')]
        return status_array(self.get_clock().now().to_msg(),
                            DiagnosticStatus.WARN if behind else DiagnosticStatus.OK,
                            'learner: update rate', message, str(self.learner.agent.device),
                            values)

    def publish_progress(self, env_steps: int, optimization_step: int, owed: int) -> None:
        msg = LearnerProgress(env_steps=env_steps, optimization_step=optimization_step,
                              utd_ratio=float(self.config.utd_ratio), updates_owed=owed)
        msg.header.stamp = self.get_clock().now().to_msg()
        self._publish(self.progress_publisher, msg)

    def destroy_node(self):
        # Stop training; the learner stores what is queued and writes a final checkpoint.
        if hasattr(self, 'stop'):
            self.stop.set()
            self.training.join(timeout=120.0)
        super().destroy_node()


main = main_for(LearnerNode)
