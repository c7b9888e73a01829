"""The simulated human on the leader arm, in plain Python (no ROS).

Corrections mode follows the protocol that worked for HIL-SERL on real arms: let the policy
explore for a while, and when it drifts (the jaws are not getting closer to the cube) take the
leader for a short nudge towards the cube, from where the arm is, then let go. Probability,
length and budget are configurable; corrections are not takeovers. Like a person who learns to
trust a policy that succeeds, the operator hands over: the chance of a nudge scales with the
share of recent training episodes that failed, so it corrects a failing policy and leaves a
succeeding one alone (with a fixed chance, a policy at 90% success was still corrected on 10-17%
of its steps, because it hesitates on the way to most grasps and a nudge is quicker).

Demo mode performs the whole scripted grasp-and-lift once the arm has settled after a reset,
for recording demonstrations, or one of its failure modes on purpose (`demo_plan`: what each
episode performs, in turn; `demo_lift_heights_m`: lifted how high), and with `marks` it marks
each episode as a person does with the leader's keys once it is over: success when the cube is
up, failure when a failure it meant to show is done, re-record when an episode did not show what
it meant to.

When the operator does not hold the leader, the leader follows the follower (as a leader arm in
follow mode does), so taking over starts from where the follower is.
"""
import collections
import dataclasses
import enum
from typing import Deque, Optional, Sequence

import numpy as np

from hilserl_common.config import in_range, non_negative, one_of, param, positive
from so101_kinematics.kinematics import Kinematics, check_joints
from so101_sim.scripted_grasp import (
    CARRY_REACH_M,
    GRASP_KINDS,
    LIFTING_KINDS,
    SUCCESS,
    GraspAttempt,
    GraspScriptConfig,
    ScriptedGrasp,
    draw_attempt,
    draw_carry,
)


def _height_range(value):
    if not value or (len(value) == 2 and 0.0 < value[0] <= value[1]):
        return None
    return 'empty, or [lowest, highest] in metres with 0 < lowest <= highest'


def _grasp_kinds(value):
    if value and all(kind in GRASP_KINDS for kind in value):
        return None
    return f'a non-empty list out of {", ".join(GRASP_KINDS)}'


@dataclasses.dataclass(frozen=True)
class OperatorConfig:
    mode: str = param('corrections', 'corrections: short nudges when the policy drifts; demo: '
                      'a full scripted grasp each episode; off: never intervene',
                      one_of('corrections', 'demo', 'off'))
    control_rate_hz: float = param(10.0, 'rate of the operator\'s decisions (Hz)',
                                   in_range(1.0, 100.0))
    leader_rate_hz: float = param(30.0, 'rate of leader/joint_states and intervention, as the '
                                  'real leader node (Hz)', in_range(1.0, 200.0))
    episode_correction_probability: float = param(1.0, 'share of episodes in which the operator '
                                                  'corrects at all', in_range(0.0, 1.0))
    correction_probability: float = param(0.3, 'chance per control step of starting a nudge '
                                          'while the policy drifts', in_range(0.0, 1.0))
    explore_steps: int = param(20, 'control steps the policy explores alone before any nudge',
                               non_negative)
    correction_steps: int = param(10, 'length of one nudge (control steps)', positive)
    handover_episodes: int = param(10, 'the chance of a nudge is correction_probability times '
                                   'the share of the last this many training episodes that '
                                   'failed (none seen yet: all failed); 0: no hand-over',
                                   non_negative)
    max_corrections_per_episode: int = param(3, 'budget: nudges per episode', non_negative)
    max_intervention_fraction: float = param(0.3, 'budget: share of an episode\'s steps under '
                                             'intervention', in_range(0.0, 1.0))
    control_time_s: float = param(10.0, 'episode length (s); the intervention budget is a share '
                                  'of its steps', positive)
    drift_distance_m: float = param(0.04, 'the jaws are drifting when farther than this from '
                                    'the cube and not getting closer', positive)
    progress_window_steps: int = param(10, 'steps over which getting closer is judged',
                                       positive)
    progress_m: float = param(0.01, 'getting closer by this much over the window is progress',
                              positive)
    demo_settle_steps: int = param(5, 'demo mode: steps the follower must be still near its '
                                   'reset pose before the demonstration starts', positive)
    demo_tail_steps: int = param(10, 'demo mode: steps of holding the cube up after the lift',
                                 non_negative)
    demo_plan: list = param([SUCCESS], 'demo mode: what each episode performs, in turn and '
                            'then again from the start (an episode marked re-record is '
                            'performed again): success, near_miss (the jaws close a few cm '
                            'beside the cube), drop (lift, then the jaws open), closed_on_air '
                            '(the jaws close above the cube)', _grasp_kinds)
    demo_lift_heights_m: list = param([], 'demo mode: [lowest, highest] EE height (m) a grasp '
                                      'or drop lifts the cube to, drawn per demonstration as a '
                                      'person varies it (a reward classifier trained on one '
                                      'height misses a policy that lifts higher or lower); '
                                      'empty: the script\'s lift_height_m', _height_range)
    demo_carry_places: int = param(0, 'demo mode: places the lifted hand is carried to, each '
                                   'within demo_carry_reach_m across and at a height of '
                                   'demo_lift_heights_m, before the demonstration ends (a '
                                   'person shows the classifier the cube up from many sides, '
                                   'and the empty hand the same way in a failure); 0: none',
                                   non_negative)
    demo_carry_reach_m: float = param(CARRY_REACH_M, 'demo mode: farthest a carry place lies '
                                      'across (x, y) from where the hand was lifted (m)',
                                      in_range(0.0, 0.15))
    marks: bool = param(False, 'demo mode: mark each episode on operator_event as a person '
                        'does with the leader\'s keys (success, failure, rerecord), for '
                        'recordings labelled by the operator as on the real arm')
    seed: int = param(0, 'seed of the operator\'s random choices', non_negative)


class OperatorState(enum.Enum):
    WAITING = 'waiting'        # no episode running (before the first reset, after an end)
    WATCHING = 'watching'      # the policy acts; the leader follows the follower
    NUDGING = 'nudging'        # a short correction
    DEMONSTRATING = 'demonstrating'


@dataclasses.dataclass(frozen=True)
class OperatorOutput:
    leader_joints: np.ndarray  # (6,) rad
    intervention: bool
    mark: str = ''             # an operator_event to send now (marks on), else ''


class SimulatedOperator:
    """Call new_episode() at each scene reset and tick() once per control step."""

    def __init__(self, kinematics: Kinematics, config: OperatorConfig,
                 script_config: GraspScriptConfig = GraspScriptConfig()):
        self.kinematics = kinematics
        self.config = config
        self.script = ScriptedGrasp(kinematics, script_config)
        self.rng = np.random.default_rng(config.seed)
        self._distances: Deque[float] = collections.deque(maxlen=config.progress_window_steps + 1)
        self._outcomes: Deque[bool] = collections.deque(maxlen=max(config.handover_episodes, 1))
        self._clear_episode(tail_steps=0)
        self._corrects_this_episode = False
        self.performed = 0  # demonstrations marked success or failure (demo_plan's place)
        self.state = OperatorState.WAITING

    @property
    def demo_kind(self) -> str:
        """What this demonstration performs (demo_plan, in turn)."""
        plan = self.config.demo_plan
        return plan[self.performed % len(plan)]

    def new_episode(self) -> None:
        self._clear_episode(self.config.demo_tail_steps)
        self._corrects_this_episode = bool(
            self.rng.random() < self.config.episode_correction_probability)
        self.state = OperatorState.WATCHING

    def _clear_episode(self, tail_steps: int) -> None:
        self.step = 0
        self.corrections = 0
        self.intervention_steps = 0
        self._nudge_left = 0
        self._still_steps = 0
        self._tail_left = tail_steps
        self._marked = False
        self._distances.clear()

    def episode_ended(self, mode: str = '', success: bool = False) -> None:
        """`mode` and `success`: how the episode ended, as the person saw it. Only a training
        episode counts towards when to step in (an evaluation or a demonstration says nothing
        about the policy the operator corrects)."""
        self.state = OperatorState.WAITING
        self._marked = True  # a key pressed after the end belongs to no episode
        if mode == 'train':
            self._outcomes.append(bool(success))

    @property
    def failing_share(self) -> float:
        """Share of the recent training episodes that failed: how much the operator helps."""
        if not self.config.handover_episodes or not self._outcomes:
            return 1.0
        return 1.0 - sum(self._outcomes) / len(self._outcomes)

    def tick(self, follower_joints: Sequence[float], cube_position: Sequence[float],
             follower_still: bool = True, cube_lifted: bool = False
             ) -> Optional[OperatorOutput]:
        """The leader for this control step; None when the follower joints are unusable.
        `cube_position` and `cube_lifted` are what a person at the arm sees."""
        if check_joints(follower_joints) is not None:
            return None
        follower = np.asarray(follower_joints, dtype=float)
        cube = np.asarray(cube_position, dtype=float)
        if self.state is not OperatorState.WAITING:
            self.step += 1
        if self.config.mode == 'demo':
            output = self._demo(follower, cube, follower_still)
            return self._marking(output, cube_lifted) if self.config.marks else output
        if self.config.mode == 'corrections':
            return self._corrections(follower, cube)
        return OperatorOutput(follower, False)

    # --- corrections -------------------------------------------------------------------

    def _corrections(self, follower: np.ndarray, cube: np.ndarray) -> OperatorOutput:
        self._distances.append(self._jaw_distance(follower, cube))
        if self.state is OperatorState.NUDGING:
            return self._nudge(follower, cube)
        if self.state is OperatorState.WATCHING and self._should_nudge():
            self.state = OperatorState.NUDGING
            self.corrections += 1
            self._nudge_left = self.config.correction_steps
            self.script.reset(follower, correction=True)
            return self._nudge(follower, cube)
        return OperatorOutput(follower, False)

    def _nudge(self, follower: np.ndarray, cube: np.ndarray) -> OperatorOutput:
        leader = self.script.step(follower, cube)
        self._nudge_left -= 1
        self.intervention_steps += 1
        if self._nudge_left <= 0 or leader is None:
            self.state = OperatorState.WATCHING  # let go: a correction, not a takeover
            self._distances.clear()
        return OperatorOutput(follower if leader is None else leader, leader is not None)

    def _should_nudge(self) -> bool:
        config = self.config
        episode_steps = config.control_time_s * config.control_rate_hz
        budget = min(config.correction_steps,
                     config.max_intervention_fraction * episode_steps - self.intervention_steps)
        return (self._corrects_this_episode
                and self.step > config.explore_steps
                and self.corrections < config.max_corrections_per_episode
                and budget >= config.correction_steps / 2
                and self._drifting()
                and self.rng.random() < config.correction_probability * self.failing_share)

    def _drifting(self) -> bool:
        if len(self._distances) <= self.config.progress_window_steps:
            return False
        distance = self._distances[-1]
        progress = self._distances[0] - distance
        return distance > self.config.drift_distance_m and progress < self.config.progress_m

    def _jaw_distance(self, follower: np.ndarray, cube: np.ndarray) -> float:
        """Distance from the point between the jaws to the cube centre."""
        offset = self.kinematics.closing_axis(follower) * self.script.config.grasp_offset_m
        return float(np.linalg.norm(self.kinematics.position(follower) + offset - cube))

    # --- demonstrations ----------------------------------------------------------------

    def _demo_attempt(self) -> GraspAttempt:
        """What this demonstration performs, with its lift height and the places it carries
        to drawn when asked for."""
        attempt = draw_attempt(self.demo_kind, self.rng)
        heights = self.config.demo_lift_heights_m
        if heights and self.demo_kind in LIFTING_KINDS:
            attempt = dataclasses.replace(attempt,
                                          lift_height_m=float(self.rng.uniform(*heights)))
        if self.config.demo_carry_places:
            attempt = dataclasses.replace(attempt, carry_m=self._carry_places(attempt))
        return attempt

    def _carry_places(self, attempt: GraspAttempt) -> tuple:
        """Where the lifted hand goes: to heights of demo_lift_heights_m (none given: the
        lift's own)."""
        lifted = self.script.config.lift_height_m if attempt.lift_height_m is None \
            else attempt.lift_height_m
        return draw_carry(self.rng, self.config.demo_carry_places, lifted,
                          self.config.demo_lift_heights_m or [lifted, lifted],
                          self.config.demo_carry_reach_m)

    def _demo(self, follower: np.ndarray, cube: np.ndarray, still: bool) -> OperatorOutput:
        if self.state is OperatorState.WATCHING:
            # Wait for the actor's IK reset to finish: the follower at rest for a few steps.
            self._still_steps = self._still_steps + 1 if still else 0
            if self._still_steps < self.config.demo_settle_steps:
                return OperatorOutput(follower, False)
            self.state = OperatorState.DEMONSTRATING
            self.script.reset(follower, attempt=self._demo_attempt())
        if self.state is OperatorState.DEMONSTRATING:
            leader = self.script.step(follower, cube)
            if leader is None:
                return OperatorOutput(follower, False)
            self.intervention_steps += 1
            if self.script.done:
                self._tail_left -= 1
                if self._tail_left < 0:
                    self.state = OperatorState.WAITING
            return OperatorOutput(leader, True)
        return OperatorOutput(follower, False)

    def _marking(self, output: OperatorOutput, cube_lifted: bool) -> OperatorOutput:
        """The key a person presses at the end of a demonstration (the grasp lifted and held for
        demo_tail_steps, so that the recording shows the cube up, not only the instant it left
        the table): success when the grasp left the cube up, failure when a failure mode showed
        what it meant, re-record otherwise (the cube is up after a failure mode, or down after
        a grasp). One mark per episode."""
        if self._marked or self.step == 0 or self.state is not OperatorState.WAITING:
            return output
        grasp = self.demo_kind == SUCCESS
        if grasp:
            mark = 'success' if cube_lifted else 'rerecord'
        else:
            mark = 'rerecord' if cube_lifted else 'failure'
        self._marked = True
        if mark != 'rerecord':
            self.performed += 1
        return dataclasses.replace(output, mark=mark)
