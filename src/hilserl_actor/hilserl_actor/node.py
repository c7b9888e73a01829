"""The actor node: a thin ROS shell around EpisodeLoop.

Subscriptions keep the newest input of each kind; the control loop runs in its own thread at the
configured rate on the node's clock (sim time when the simulation runs faster than real time),
resets the arm between episodes, publishes joint commands, a transition per step and episode
statistics, and swaps in new policy weights between steps as soon as they arrive.
"""
import gc
import os
import threading
import time
import traceback
from typing import Optional

import numpy as np
import rclpy
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool, String

from hilserl_actor.config import ActorConfig
from hilserl_actor.control_rate import ControlRate
from hilserl_actor.episode import EpisodeLoop, EpisodeSummary, Snapshot, Transition
from hilserl_actor.labels import record_episode_label
from hilserl_actor.policy_client import PolicyClient
from hilserl_actor.recording import EpisodeRecorder
from hilserl_common import qos
from hilserl_common.images import from_msg, to_msg
from hilserl_common.node import main_for
from hilserl_common.config import ConfigError
from hilserl_common.params import load_config
from hilserl_common.records import append_record, read_records
from hilserl_interfaces.msg import EpisodeStats, GraspState, PolicyWeights, RewardPrediction
from hilserl_interfaces.msg import Transition as TransitionMsg
from hilserl_interfaces.srv import ResetScene
from so101_kinematics.kinematics import Kinematics, KinematicsConfig
from so101_kinematics.model import JOINT_NAMES, joints_in_model_order
from so101_kinematics.reset import ResetConfig, ik_reset


def _seconds(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


class LatestInputs:
    """The newest value of each input; written by callbacks, read by the control thread."""

    def __init__(self):
        self._lock = threading.Lock()
        self._snapshot = Snapshot(now_s=0.0)

    def update(self, **fields):
        with self._lock:
            for name, value in fields.items():
                setattr(self._snapshot, name, value)

    def snapshot(self, now_s: float) -> Snapshot:
        with self._lock:
            copy = Snapshot(**vars(self._snapshot))
        copy.now_s = now_s
        return copy


class ActorNode(Node):
    def __init__(self):
        super().__init__('actor')
        self.config = load_config(self, ActorConfig)
        self.kinematics = Kinematics(load_config(self, KinematicsConfig))
        self.reset_config = load_config(self, ResetConfig)
        self.actor_id = self.config.actor_id or self.get_namespace().strip('/') or 'actor'
        self.policy = PolicyClient(self.config.seed, self.config.weights_device,
                                   self.config.torch_threads)
        if self.config.policy_file:
            error = self.policy.load_file(self.config.policy_file)
            if error:
                raise ConfigError(f'policy_file {self.config.policy_file}: {error}')
            self.get_logger().info(f'policy version {self.policy.version} loaded from '
                                   f'{self.config.policy_file}')
        self.loop = EpisodeLoop(self.config, self.kinematics, self.policy)
        self.inputs = LatestInputs()
        self.rng = np.random.default_rng(self.config.seed)
        self._stopping = threading.Event()
        os.makedirs(self.config.output_dir, exist_ok=True)
        # Numbering continues after a restart (the learner sees new episode ids).
        self.episode_id = sum(len(read_records(self._stats_path(mode)))
                              for mode in ('train', 'eval', 'record'))
        self.train_episodes = len(read_records(self._stats_path('train')))
        self._eval_remaining = self.config.eval_episodes if self.config.mode == 'eval' else 0
        self._eval_round = []

        inputs = ReentrantCallbackGroup()
        self.create_subscription(JointState, 'joint_states', self._on_joints,
                                 qos.SENSOR_RELIABLE, callback_group=inputs)
        self.create_subscription(Image, 'wrist_camera/image_proc', self._on_image, qos.SENSOR,
                                 callback_group=inputs)
        self.create_subscription(JointState, 'leader/joint_states', self._on_leader,
                                 qos.SENSOR_RELIABLE, callback_group=inputs)
        self.create_subscription(Bool, 'intervention', self._on_intervention, qos.COMMANDS,
                                 callback_group=inputs)
        if self.config.reward_source == 'classifier':
            self.create_subscription(RewardPrediction, 'reward', self._on_reward, qos.COMMANDS,
                                     callback_group=inputs)
        # The simulation's privileged success: the reward when reward_source is sim; with the
        # classifier as reward it still decides evaluation episodes (a policy is measured by
        # what it did, not by what the classifier thought) and is recorded next to it.
        self._sim_success = (None, -float('inf'))  # (success, stamp) of the newest grasp_state
        if self.config.sim or self.config.reward_source == 'sim':
            self.create_subscription(GraspState, 'sim/grasp_state', self._on_grasp_state,
                                     qos.SENSOR_RELIABLE, callback_group=inputs)
        self.create_subscription(PolicyWeights, '/policy_weights', self._on_weights, qos.LATCHED,
                                 callback_group=MutuallyExclusiveCallbackGroup())
        self.command_pub = self.create_publisher(JointState, 'joint_commands', qos.COMMANDS)
        self.transition_pub = self.create_publisher(TransitionMsg, '/transitions',
                                                    qos.TRANSITIONS)
        self.stats_pub = self.create_publisher(EpisodeStats, 'episode_stats', qos.COMMANDS)
        self.reset_client = self.create_client(ResetScene, 'sim/reset_scene',
                                               callback_group=MutuallyExclusiveCallbackGroup())
        self.create_subscription(String, 'operator_event', self._on_operator_event, qos.COMMANDS,
                                 callback_group=inputs)
        self._operator_event = ''
        self.recorder = None
        if self.config.mode == 'record':
            self._start_recording(inputs)
        self.rate = ControlRate(self, self.config.control_rate_hz)
        # A full garbage collection walks every object (torch, MuJoCo, rclpy: ~100 ms here)
        # with the GIL held and stalled the loop several times a minute; long-lived objects
        # are moved out of its reach (again once a policy is built).
        gc.freeze()
        self._thread = threading.Thread(target=self._run, name='control_loop', daemon=True)
        self._thread.start()

    # --- inputs ---------------------------------------------------------------------------

    def now_s(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_joints(self, msg: JointState):
        joints = joints_in_model_order(msg.name, msg.position)
        if joints is not None:
            self.inputs.update(joints=joints, joints_time_s=_seconds(msg.header.stamp))

    def _on_image(self, msg: Image):
        try:
            image = from_msg(msg)
        except ValueError as error:
            self.get_logger().warning(f'dropping a wrist image: {error}',
                                      throttle_duration_sec=5.0)
            return
        self.inputs.update(image=image, image_time_s=_seconds(msg.header.stamp))

    def _on_leader(self, msg: JointState):
        joints = joints_in_model_order(msg.name, msg.position)
        if joints is not None:
            self.inputs.update(leader_joints=joints)

    def _on_intervention(self, msg: Bool):
        self.inputs.update(intervention=bool(msg.data))

    def _on_reward(self, msg: RewardPrediction):
        self.inputs.update(success=bool(msg.success), success_time_s=_seconds(msg.header.stamp))

    def _on_grasp_state(self, msg: GraspState):
        self._sim_success = (bool(msg.success), _seconds(msg.header.stamp))
        if self.config.reward_source == 'sim':
            self.inputs.update(success=self._sim_success[0],
                               success_time_s=self._sim_success[1])

    def _on_operator_event(self, msg: String):
        """Keyboard/pedal marks: success, failure (end the episode) or rerecord (discard it)."""
        if msg.data in ('success', 'failure', 'rerecord'):
            self._operator_event = msg.data
        else:
            self.get_logger().warning(f'unknown operator_event {msg.data!r}; expected success, '
                                      f'failure or rerecord')

    def _start_recording(self, group):
        directory = self.config.recording_dir or os.path.join(self.config.output_dir, 'demos')
        self.recorder = EpisodeRecorder(directory, self.get_namespace(), self.config.sim)
        for topic, msgtype in self.recorder.topics.items():
            package, _, name = msgtype.split('/')
            module = __import__(f'{package}.msg', fromlist=[name])
            qos_profile = qos.SENSOR if 'image' in topic else qos.SENSOR_RELIABLE
            self.create_subscription(
                getattr(module, name), topic,
                lambda data, topic=topic: self.recorder.write(
                    topic, self.get_clock().now().nanoseconds, data),
                qos_profile, callback_group=group, raw=True)
        self.get_logger().info(f'recording episodes into {directory}')

    def _on_weights(self, msg: PolicyWeights):
        error = self.policy.load(msg)
        if error:
            self.get_logger().error(f'policy weights version {msg.version} refused: {error}')
        else:
            gc.freeze()  # the policy's objects live as long as the node
            self.get_logger().info(f'policy weights version {msg.version} loaded',
                                   throttle_duration_sec=10.0)

    # --- the control thread -----------------------------------------------------------------

    def _run(self):
        try:
            while rclpy.ok(context=self.context) and not self._stopping.is_set():
                if not self._episode():
                    break
        except Exception as error:  # the loop must not die silently: report, stop the node
            if self._stopping.is_set():
                return
            self.get_logger().fatal(f'control loop failed: {error!r}\n{traceback.format_exc()}')
            self.exit_code = 1
            rclpy.try_shutdown(context=self.context)
            return
        if self.config.mode == 'eval' and not self._stopping.is_set():
            rclpy.try_shutdown(context=self.context)  # evaluation done: the node exits

    def _episode(self) -> bool:
        """One reset + episode; False when the actor is done (evaluation finished, shutdown)."""
        evaluate = self._eval_remaining > 0
        if self.config.mode == 'eval' and not evaluate:
            return False
        if self.config.mode == 'eval' and self.policy.version == 0:
            # Evaluating the random initial policy would measure nothing.
            self.get_logger().info('waiting for policy weights (/policy_weights or policy_file)',
                                   throttle_duration_sec=10.0)
            self.rate.sleep()
            return True
        if not self._reset():
            return not self._stopping.is_set()
        self.loop.begin(self.inputs.snapshot(self.now_s()).joints, evaluate)
        self._operator_event = ''
        if self.recorder:
            self.recorder.start()
        started = time.monotonic()
        paused_reason = ''
        success_frame = None
        sim_success_seen = False
        while not self._stopping.is_set() and rclpy.ok(context=self.context):
            self.rate.sleep()
            event, self._operator_event = self._operator_event, ''
            if event == 'rerecord':
                self.get_logger().info('re-recording: episode discarded')
                if self.recorder:
                    self.recorder.stop(keep=False)
                return True
            snapshot = self.inputs.snapshot(self.now_s())
            if event == 'success':
                snapshot.success, snapshot.success_time_s = True, snapshot.now_s
            if evaluate and self.config.sim:
                snapshot.success, snapshot.success_time_s = self._sim_success
            sim_success_seen = sim_success_seen or bool(self._sim_success[0])
            result = self.loop.step(snapshot)
            if self.recorder and success_frame is None and self.loop.summary.success:
                success_frame = self.recorder.frames_written()
            if event == 'failure' and not result.paused:
                result.done = True
            if result.paused:
                if result.paused != paused_reason:
                    self.get_logger().warning(f'episode paused: {result.paused}')
                paused_reason = result.paused
                continue
            paused_reason = ''
            if result.transition is not None and self.config.mode == 'train' and not evaluate:
                self.transition_pub.publish(self._transition_msg(result.transition))
            if result.command is not None:
                self._command(result.command)
            if result.done:
                record = self._report(self.loop.summary, time.monotonic() - started, evaluate,
                                      sim_success_seen if self.config.sim else None)
                if self.recorder:
                    self._finish_recording(success_frame)
                self.episode_id += 1
                self._schedule_evaluation(evaluate, record)
                return True
        return False

    def _reset(self) -> bool:
        def read():
            return self.inputs.snapshot(self.now_s()).joints

        if read() is None:
            self.get_logger().info('waiting for joint_states', throttle_duration_sec=10.0)
            self.rate.sleep()
            return False
        if self.config.sim and not self._reset_scene():
            return False
        outcome = ik_reset(self.kinematics, self.reset_config, read, self._command,
                           self.rate.sleep, self.rng)
        # One call site per severity: rclpy refuses a call site whose severity changes.
        if outcome.accepted:
            self.get_logger().info(outcome.message, throttle_duration_sec=30.0)
        else:
            self.get_logger().warning(outcome.message, throttle_duration_sec=30.0)
        if not self.config.sim and self.config.ready_delay_s > 0:
            self.get_logger().info(f'place the cube: the episode starts in '
                                   f'{self.config.ready_delay_s:.0f} s')
            self.get_clock().sleep_for(rclpy.duration.Duration(seconds=self.config.ready_delay_s))
        return outcome.accepted

    def _reset_scene(self) -> bool:
        if not self.reset_client.wait_for_service(timeout_sec=5.0):
            self.get_logger().warning('waiting for the sim/reset_scene service',
                                      throttle_duration_sec=10.0)
            return False
        request = ResetScene.Request(seed=int(self.rng.integers(0, 2**31 - 1)))
        future = self.reset_client.call_async(request)
        done = threading.Event()
        future.add_done_callback(lambda _: done.set())
        if not done.wait(timeout=10.0) or not future.result() or not future.result().success:
            self.get_logger().warning('sim/reset_scene did not succeed; retrying')
            return False
        return True

    def _command(self, joints: np.ndarray):
        msg = JointState()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.name = list(JOINT_NAMES)
        msg.position = [float(v) for v in joints]
        self.command_pub.publish(msg)

    def _transition_msg(self, t: Transition) -> TransitionMsg:
        msg = TransitionMsg()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.actor_id = self.actor_id
        msg.episode_id = self.episode_id
        msg.step_id = t.step_id
        msg.state = t.state.astype(np.float32).tolist()
        msg.next_state = t.next_state.astype(np.float32).tolist()
        msg.image = to_msg(t.image)
        msg.next_image = to_msg(t.next_image)
        msg.action = np.asarray(t.action, np.float32).tolist()
        msg.gripper_action = int(t.gripper_action)
        msg.reward = float(t.reward)
        msg.terminated = bool(t.terminated)
        msg.truncated = bool(t.truncated)
        msg.is_intervention = bool(t.is_intervention)
        msg.policy_version = int(t.policy_version)
        return msg

    # --- statistics -------------------------------------------------------------------------

    def _report(self, summary: EpisodeSummary, duration_s: float, evaluate: bool,
                sim_success: Optional[bool]) -> dict:
        nominal = 1.0 / self.config.control_rate_hz
        mode = 'eval' if evaluate else self.config.mode
        msg = EpisodeStats(actor_id=self.actor_id, episode_id=self.episode_id, mode=mode, episode_return=float(summary.episode_return),
                           length=summary.length, success=summary.success,
                           intervention_steps=summary.intervention_steps,
                           intervention_rate=float(summary.intervention_rate),
                           policy_hz=summary.policy_hz(),
                           loop_jitter_p99_ms=summary.jitter_p99_ms(nominal),
                           policy_version=int(self.policy.version), duration_s=duration_s)
        msg.header.stamp = self.get_clock().now().to_msg()
        self.stats_pub.publish(msg)
        record = {'episode': self.episode_id, 'mode': mode,
                  'return': msg.episode_return, 'length': msg.length, 'success': msg.success,
                  'steps_to_success': summary.steps_to_success,
                  'intervention_steps': msg.intervention_steps,
                  'intervention_rate': msg.intervention_rate, 'policy_hz': msg.policy_hz,
                  'loop_jitter_p99_ms': msg.loop_jitter_p99_ms,
                  'policy_version': msg.policy_version, 'duration_s': duration_s,
                  'wall_time': time.time()}
        if sim_success is not None:  # the simulation's own verdict, next to the reward's
            record['sim_success'] = sim_success
        append_record(self._stats_path(mode), record)
        self.get_logger().info(
            f'{mode} episode {self.episode_id}: '
            f'{"SUCCESS" if summary.success else "failure"} return {summary.episode_return:.1f} '
            f'length {summary.length} interventions {summary.intervention_rate:.0%} '
            f'{msg.policy_hz:.1f} Hz policy v{msg.policy_version}')
        return record

    def _finish_recording(self, success_frame):
        # Let the last messages of the episode (its statistics) reach the bag first.
        self.get_clock().sleep_for(rclpy.duration.Duration(seconds=0.3))
        path = self.recorder.stop(keep=True)
        record_episode_label(path.parent / 'labels.yaml', path.name, success_frame)
        self.get_logger().info(f'episode saved: {path} (success from frame {success_frame})')

    def _stats_path(self, mode: str) -> str:
        """Episode statistics per kind of episode: training, evaluation, demonstration."""
        name = {'train': 'episodes.jsonl', 'eval': 'eval_episodes.jsonl',
                'record': 'demo_episodes.jsonl'}[mode]
        return os.path.join(self.config.output_dir, name)

    def _schedule_evaluation(self, evaluated: bool, record: dict):
        if evaluated:
            self._eval_remaining -= 1
            self._eval_round.append(record)
            if self._eval_remaining == 0:
                self._finish_evaluation_round()
            return
        if self.config.mode != 'train':
            return
        self.train_episodes += 1
        every = self.config.eval_every_episodes
        if every and self.train_episodes % every == 0:
            self._eval_remaining += self.config.eval_round_episodes

    def _finish_evaluation_round(self):
        """Success rate and mean time-to-success of the round: logged, appended to
        eval_rounds.jsonl (read by the main job and the report)."""
        records, self._eval_round = self._eval_round, []
        steps = [r['steps_to_success'] for r in records if r['success']]
        mean_steps = float(np.mean(steps)) if steps else None
        summary = {'after_train_episodes': self.train_episodes, 'episodes': len(records),
                   'success_rate': len(steps) / len(records),
                   'mean_steps_to_success': mean_steps,
                   'mean_time_to_success_s':
                       mean_steps / self.config.control_rate_hz if steps else None,
                   'policy_version': records[-1]['policy_version'], 'wall_time': time.time()}
        append_record(os.path.join(self.config.output_dir, 'eval_rounds.jsonl'), summary)
        self.get_logger().info(
            f'evaluation: {summary["success_rate"]:.0%} success over {len(records)} episodes '
            f'(policy v{summary["policy_version"]}, mean time to success '
            f'{summary["mean_time_to_success_s"] or float("nan"):.1f} s)')

    def destroy_node(self):
        self._stopping.set()
        # Wake the control thread (the executor no longer fires the rate's timer) and let it
        # finish: a daemon thread still inside rclpy when the interpreter exits aborts the
        # process ("terminate called without an active exception").
        self.rate.destroy()
        self._thread.join(timeout=3.0)
        if self.recorder:
            self.recorder.stop(keep=False)  # an unfinished episode is not a demonstration
        super().destroy_node()


# One executor thread: the callbacks only store the newest inputs, and rclpy's multi-threaded
# executor took twice the CPU, holding the GIL that the control thread waits for
# (benchmarks/actor_loop.py: step wall time p99 70 -> 46 ms, wake-up lateness p99 21 -> 3 ms).
main = main_for(ActorNode)
