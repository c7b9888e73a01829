"""The HIL-SERL episode loop, one control step at a time, without ROS.

Each call of `EpisodeLoop.step` gets the newest inputs (a `Snapshot`) and returns what to do:
joint targets for the arm, the transition completed by this observation, or a pause when an input
is stale. The policy acts through the closed-loop EE controller and its step stores the action it
chose. While the operator intervenes the follower mirrors the leader (rate-limited), and the step
stores what the follower then did: its realised EE motion in the policy's action space, known once
the next observation completes the transition (so101_kinematics.action_space defines it, for
demonstrations too), flagged as an intervention.
"""
import dataclasses
from typing import List, Optional, Protocol, Tuple

import numpy as np

from hilserl_actor.config import ActorConfig
from hilserl_common.transition import Transition
from so101_description.model import GRIPPER_INDEX
from so101_kinematics.action_space import (
    GripperAction,
    action_to_ee_delta,
    gripper_target,
    human_action,
    human_gripper_action,
)
from so101_kinematics.ee_control import EEController
from so101_kinematics.kinematics import Kinematics, check_joints
from so101_kinematics.proprioception import ProprioceptionTracker


class ActingPolicy(Protocol):
    """What the loop acts with (hilserl_actor.policy_client.PolicyClient)."""
    version: int          # the newest weights loaded (0: the initial random policy)
    acting_version: int   # the weights version of the last call

    def __call__(self, state: np.ndarray, image: np.ndarray, deterministic: bool
                 ) -> Tuple[np.ndarray, int]:
        """(state (18,), image (128, 128, 3) uint8) -> (EE action (3,), gripper 0/1/2)."""


@dataclasses.dataclass
class Snapshot:
    """The newest value of every input, with the time (s) it was measured."""
    now_s: float
    joints: Optional[np.ndarray] = None
    joints_time_s: float = -np.inf
    image: Optional[np.ndarray] = None
    image_time_s: float = -np.inf
    success: Optional[bool] = None          # reward classifier decision or privileged success
    success_time_s: float = -np.inf
    leader_joints: Optional[np.ndarray] = None
    intervention: bool = False
    # Simulation diagnostics only: privileged values appended to the proprioceptive state.
    privileged: Optional[np.ndarray] = None
    # time.monotonic() when taken: the loop's timing on the wall clock, which a real arm lives
    # by (now_s is sim time when the simulation runs slower or faster than real time).
    wall_s: Optional[float] = None
    # When the leader's joints came, on the actor's clock (the leader's own stamps may be another
    # machine's): a recording pauses while they are missing or old.
    leader_time_s: float = -np.inf


@dataclasses.dataclass
class EpisodeSummary:
    episode_return: float = 0.0
    length: int = 0
    success: bool = False
    steps_to_success: Optional[int] = None
    intervention_steps: int = 0
    policy_closes: int = 0      # steps at which the policy (not the operator) chose to close
    paused_steps: int = 0
    step_times_s: List[float] = dataclasses.field(default_factory=list)       # node clock
    wall_step_times_s: List[float] = dataclasses.field(default_factory=list)  # wall clock
    # How old each step's wrist frame and joints were (node clock, s): a policy that chose on a
    # frame 30 ms old succeeded less often than on one taken at the step (docs/RESULTS.md).
    frame_ages_s: List[float] = dataclasses.field(default_factory=list)
    joints_ages_s: List[float] = dataclasses.field(default_factory=list)
    # ... and the frame the step's reward was scored on: a reward older than the step's state
    # may credit the success to a later step, or miss the last one
    reward_ages_s: List[float] = dataclasses.field(default_factory=list)

    @property
    def intervention_rate(self) -> float:
        return self.intervention_steps / self.length if self.length else 0.0

    def _times(self, wall: bool) -> np.ndarray:
        return np.asarray(self.wall_step_times_s if wall else self.step_times_s)

    def policy_hz(self, wall: bool = False) -> float:
        periods = np.diff(self._times(wall))
        return float(1.0 / periods.mean()) if len(periods) else 0.0

    def input_ages_ms(self) -> dict:
        """p50 and p95 of the frames', the joints' and the rewards' ages at the steps (ms)."""
        ages = {}
        for name, values in (('frame', self.frame_ages_s), ('joints', self.joints_ages_s),
                             ('reward', self.reward_ages_s)):
            if values:
                p50, p95 = np.percentile(values, [50, 95]) * 1000.0
                ages.update({f'{name}_age_p50_ms': round(float(p50), 1),
                             f'{name}_age_p95_ms': round(float(p95), 1)})
        return ages

    def jitter_p99_ms(self, nominal_period_s: float, wall: bool = False) -> float:
        """p99 of |step period - nominal| on the node clock, or on the wall clock."""
        periods = np.diff(self._times(wall))
        if not len(periods):
            return 0.0
        return float(np.percentile(np.abs(periods - nominal_period_s), 99) * 1000.0)


@dataclasses.dataclass
class StepResult:
    command: Optional[np.ndarray] = None       # joint targets to send, or None (hold)
    transition: Optional[Transition] = None
    paused: str = ''                           # why no step was taken ('' when one was)
    done: bool = False                         # the episode ended with this step


@dataclasses.dataclass
class _Pending:
    """The observation and action of the step whose outcome the next observation tells."""
    state: np.ndarray
    image: np.ndarray
    joints: np.ndarray                  # measured at the step
    is_intervention: bool
    policy_version: int
    # The policy's choice; a human step's action is its outcome, known at completion.
    action: Optional[np.ndarray] = None
    gripper_action: Optional[int] = None
    leader_gripper_rad: Optional[float] = None  # a human step: what the operator asked for


class EpisodeLoop:
    """One arm's episodes. Call `begin(measured_joints)` after each reset, then `step` at the
    control rate until it returns done."""

    def __init__(self, config: ActorConfig, kinematics: Kinematics, policy: ActingPolicy):
        self.config = config
        self.kinematics = kinematics
        self.policy = policy
        self.controller = EEController(kinematics)
        self.proprioception = ProprioceptionTracker(kinematics, 1.0 / config.control_rate_hz)
        seconds = config.record_time_s if config.mode == 'record' else config.control_time_s
        self.max_steps = max(1, int(round(seconds * config.control_rate_hz)))
        lower, upper = kinematics.lower[GRIPPER_INDEX], kinematics.upper[GRIPPER_INDEX]
        self.gripper_closed = float(np.clip(config.gripper_closed_rad, lower, upper))
        self.gripper_open = float(np.clip(config.gripper_open_rad, lower, upper))
        self.summary = EpisodeSummary()
        self._pending: Optional[_Pending] = None
        self._gripper_target = self.gripper_open
        self._was_intervening = False
        self._last_joints_time = -np.inf
        self.evaluating = config.mode == 'eval'

    def begin(self, measured_joints: np.ndarray, evaluate: bool = False) -> None:
        """Start an episode; an evaluation episode acts deterministically and ignores the
        operator (its success rate is the policy's own; training success is inflated by
        the operator's corrections)."""
        self.evaluating = evaluate or self.config.mode == 'eval'
        self.summary = EpisodeSummary()
        self._pending = None
        self._was_intervening = False
        self.proprioception.reset()
        self.controller.reset(measured_joints)
        if check_joints(measured_joints) is None:
            self._gripper_target = float(measured_joints[GRIPPER_INDEX])

    # --- one control step ---------------------------------------------------------------

    def step(self, snapshot: Snapshot) -> StepResult:
        stale = self.stale_input(snapshot)
        if stale:
            self.summary.paused_steps += 1
            return StepResult(paused=stale)
        state = self.proprioception.update(snapshot.joints, snapshot.joints_time_s)
        if snapshot.privileged is not None:
            state = np.concatenate([state, snapshot.privileged]).astype(np.float32)
        self._last_joints_time = snapshot.joints_time_s
        self.summary.step_times_s.append(snapshot.now_s)
        self.summary.frame_ages_s.append(snapshot.now_s - snapshot.image_time_s)
        self.summary.joints_ages_s.append(snapshot.now_s - snapshot.joints_time_s)
        if np.isfinite(snapshot.success_time_s):
            self.summary.reward_ages_s.append(snapshot.now_s - snapshot.success_time_s)
        if snapshot.wall_s is not None:
            self.summary.wall_step_times_s.append(snapshot.wall_s)
        result = StepResult()
        if self._pending is not None:
            result.transition = self._complete(state, snapshot)
            result.done = result.transition.terminated or result.transition.truncated
            if result.done:
                return result
        result.command = self._act(state, snapshot)
        return result

    def stale_input(self, snapshot: Snapshot) -> str:
        """Why this snapshot cannot be acted on, or ''."""
        limit = self.config.observation_max_age_s
        checks = [('joint_states', snapshot.joints, snapshot.joints_time_s),
                  ('wrist image', snapshot.image, snapshot.image_time_s)]
        if self.config.mode == 'record':
            # A recording is the person's: without their leader arm the policy would act, and
            # its steps would be kept as theirs.
            checks.append(('leader joint_states', snapshot.leader_joints,
                           snapshot.leader_time_s))
        else:
            checks.append(('reward', snapshot.success, snapshot.success_time_s))
        for name, value, stamp in checks:
            if value is None:
                return f'no {name} received yet'
            age = snapshot.now_s - stamp
            if age > limit:
                return f'{name} is {age * 1000:.0f} ms old (limit {limit * 1000:.0f} ms)'
        if check_joints(snapshot.joints) is not None:
            return f'joint_states unusable: {check_joints(snapshot.joints)}'
        if snapshot.joints_time_s <= self._last_joints_time:
            return 'no new joint_states since the last step'
        return ''

    def _complete(self, next_state: np.ndarray, snapshot: Snapshot) -> Transition:
        pending, self._pending = self._pending, None
        success = bool(snapshot.success)
        reward = 1.0 if success else 0.0
        step_id = self.summary.length
        self.summary.length += 1
        self.summary.episode_return += reward
        self.summary.intervention_steps += int(pending.is_intervention)
        self.summary.policy_closes += int(not pending.is_intervention
                                          and pending.gripper_action == GripperAction.CLOSE)
        if success and not self.summary.success:
            self.summary.success = True
            self.summary.steps_to_success = self.summary.length
        terminated = success and self.config.terminate_on_success
        truncated = not terminated and self.summary.length >= self.max_steps
        action, gripper = pending.action, pending.gripper_action
        if pending.is_intervention:
            action, gripper = self._human_action(pending, snapshot.joints)
        return Transition(pending.state, pending.image, action, gripper, reward, next_state,
                          snapshot.image, terminated, truncated, pending.is_intervention,
                          step_id, pending.policy_version)

    def _human_action(self, pending: _Pending, next_joints: np.ndarray) -> Tuple[np.ndarray, int]:
        """What the follower did over an intervention step, in the policy's action space: the
        action that would have made the policy's EE controller do the same."""
        next_joints = np.asarray(next_joints, dtype=float)
        action = human_action(self.kinematics.position(pending.joints),
                              self.kinematics.position(next_joints), self.config.action_scale)
        gripper = human_gripper_action(pending.joints[GRIPPER_INDEX], next_joints[GRIPPER_INDEX],
                                       pending.leader_gripper_rad,
                                       self.config.gripper_change_threshold_rad)
        return action.astype(np.float32), int(gripper)

    def _act(self, state: np.ndarray, snapshot: Snapshot) -> Optional[np.ndarray]:
        measured = np.asarray(snapshot.joints, dtype=float)
        operator_acts = self.config.mode == 'record' or (snapshot.intervention
                                                         and not self.evaluating)
        intervening = operator_acts and check_joints(snapshot.leader_joints) is None
        # New weights may arrive between two steps: the transition completed at the next step
        # carries the version that chose this action (PolicyClient records it while acting).
        if intervening:
            command, leader_gripper = self._mirror_leader(measured, snapshot.leader_joints)
            # The action is what the follower does now: the next observation completes it.
            self._pending = _Pending(state, snapshot.image, measured, True,
                                     int(self.policy.version),
                                     leader_gripper_rad=leader_gripper)
        else:
            if self._was_intervening:
                # Hand-over: the EE reference restarts at the arm, so releasing never jumps.
                self.controller.reset(measured)
                self._gripper_target = float(measured[GRIPPER_INDEX])
            command, action, gripper = self._policy_step(state, snapshot.image, measured)
            self._pending = _Pending(state, snapshot.image, measured, False,
                                     int(self.policy.acting_version), action, gripper)
        self._was_intervening = intervening
        return command

    def _policy_step(self, state, image, measured):
        try:
            action, gripper = self.policy(state, image, self.evaluating)
            action = np.asarray(action, dtype=float).reshape(3)
            gripper = int(gripper)
        except (ValueError, TypeError):
            action, gripper = np.zeros(3), int(GripperAction.STAY)
        # What is stored is what is executed: clipped to [-1, 1], non-finite parts as 0.
        executed = np.clip(np.where(np.isfinite(action), action, 0.0), -1.0, 1.0)
        if gripper not in (0, 1, 2):
            gripper = int(GripperAction.STAY)
        self._gripper_target = gripper_target(gripper, self._gripper_target,
                                              self.gripper_closed, self.gripper_open)
        result = self.controller.step(action_to_ee_delta(executed, self.config.action_scale),
                                      measured, self._gripper_target)
        command = result.joints if result.commandable else None
        return command, executed.astype(np.float32), gripper

    def _mirror_leader(self, measured, leader):
        """Follower joint targets walking towards the leader, and the leader's gripper (what
        the operator asks of the jaws). The leader's EE offset from the follower is not the
        action: it holds the operator's lead and the servos' sag besides the motion."""
        leader = self.kinematics.clip_to_limits(np.asarray(leader, dtype=float))
        step = self.config.intervention_max_joint_step_rad
        command = self.kinematics.clip_to_limits(measured + np.clip(leader - measured, -step, step))
        command = self._inside_bounds(self._within_one_action(command, measured), measured)
        return command, float(leader[GRIPPER_INDEX])

    def _within_one_action(self, command, measured):
        """A mirrored step moves the EE at most `action_scale` along each axis, as far as one
        policy action can: the human's motion is then stored unclipped, in the policy's own
        range (the joint step limit alone let a fast leader move the EE up to 2.8 cm a step, and
        those steps were stored saturated). The arm joints' step is scaled down, the gripper's
        kept; a second pass takes up what the arm's curvature left over the first."""
        limited = command.copy()
        arm = slice(0, GRIPPER_INDEX)
        start = self.kinematics.position(measured)
        for _ in range(3):
            reach = np.abs(self.kinematics.position(limited) - start).max()
            if reach <= self.config.action_scale:
                break
            limited[arm] = measured[arm] + (limited[arm] - measured[arm]) * (
                self.config.action_scale / reach)
        return limited

    def _inside_bounds(self, command, measured):
        """The operator cannot take the EE out of the workspace either: a mirrored target whose
        EE lies outside the bounds is replaced by IK to the nearest point inside."""
        position = self.kinematics.position(command)
        inside = self.kinematics.clip_to_bounds(position)
        if np.allclose(position, inside):
            return command
        result = self.kinematics.inverse(inside, measured)
        joints = result.joints.copy()
        joints[GRIPPER_INDEX] = command[GRIPPER_INDEX]
        return joints
