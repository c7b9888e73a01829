"""The actor's episodes without ROS: reset, the control-rate loop around EpisodeLoop, the
operator's marks, evaluation rounds and episode records.

The actor node and the in-process harness (hilserl_experiments.in_process) both run this code; only
their `ActorIO` differs: ROS topics and services for the node, a SimulatedCell stepped in
lockstep with a learner for the harness. So figures measured in process are figures of the
actor node's own episode logic.
"""
import dataclasses
import time
from typing import Callable, Optional, Protocol, Tuple

import numpy as np

from hilserl_actor.config import ActorConfig
from hilserl_actor.episode import EpisodeLoop, EpisodeSummary, Snapshot, Transition
from hilserl_actor.evaluation import EvaluationSchedule
from hilserl_actor.reward_gate import RewardGate
from hilserl_common.figures import interval_text
from hilserl_common.records import append_record
from hilserl_common.run_layout import EPISODE_FILES, RunLayout

OPERATOR_EVENTS = ('success', 'failure', 'rerecord')
# Between episodes only: a pause asked for during an episode starts when the episode ends, so
# the operator can reset the cube (real arm) or look at what happened without losing a step.
# pause_toggle is the leader's key: it flips whatever the state is (pause and resume are the
# console's buttons, which say what they want).
PAUSE_EVENTS = ('pause', 'resume', 'pause_toggle')


@dataclasses.dataclass(frozen=True)
class SimState:
    """The simulation's privileged view of the cube (sim/grasp_state): never a policy input;
    it judges evaluation episodes and tells where a failed episode went wrong."""
    success: bool
    contact: bool                  # both jaws touch the cube
    grasped: bool                  # held off the table
    cube_position: np.ndarray      # (3,) centre, base frame (m)
    cube_height_m: float           # centre above the table
    stamp_s: float


class SimOutcome:
    """How far an episode got, from the simulation's states: the closest the EE came to the
    cube, whether the jaws touched it, grasped it, and how high it went."""

    def __init__(self, start_height_m: float):
        self.start_height_m = start_height_m
        self.success = self.contact = self.grasped = False
        self.closest_m = float('inf')
        self.highest_m = start_height_m

    def update(self, state: SimState, ee_position: np.ndarray) -> None:
        self.success |= state.success
        self.contact |= state.contact
        self.grasped |= state.grasped
        self.highest_m = max(self.highest_m, state.cube_height_m)
        if np.all(np.isfinite(ee_position)):
            distance = float(np.linalg.norm(state.cube_position - ee_position))
            self.closest_m = min(self.closest_m, distance)

    def stage(self) -> str:
        """The furthest stage reached: success, grasped, contact, near (EE within 3 cm of the
        cube centre) or far."""
        for name, reached in (('success', self.success), ('grasped', self.grasped),
                              ('contact', self.contact), ('near', self.closest_m <= 0.03)):
            if reached:
                return name
        return 'far'

    def record(self) -> dict:
        return {'sim_success': self.success, 'sim_stage': self.stage(),
                'sim_closest_m': round(self.closest_m, 4),
                'sim_lift_m': round(self.highest_m - self.start_height_m, 4)}


class ActorIO(Protocol):
    """What an actor reads from and writes to the robot, the operator and the learner."""

    def wait_step(self) -> None:
        """Until the next control tick (raises when the actor is stopping)."""

    def stopping(self) -> bool: ...

    def snapshot(self) -> Snapshot:
        """The newest inputs, `now_s` set to the current time."""

    def sim_state(self) -> Optional[SimState]:
        """The simulation's newest privileged state; None without a simulation (yet)."""

    def operator_event(self) -> str:
        """The operator's newest mark since the last call (OPERATOR_EVENTS), or ''."""

    def paused(self) -> bool:
        """The operator asked for no new episode to start (operator_event pause/resume)."""

    def learner_listening(self) -> bool:
        """Something takes the transitions (the learner, once it is up and discovered)."""

    def learner_silent_s(self) -> Optional[float]:
        """Seconds since the learner was last heard from; None before it was ever heard."""

    def step_status(self, status: dict) -> None:
        """Where the episode stands (every step, and while waiting): for the operator."""

    def reset(self) -> bool:
        """Scene and arm reset before an episode; False: not possible now, try again."""

    def command(self, joints: np.ndarray) -> None: ...

    def episode_started(self, episode_id: int, mode: str) -> None:
        """The reset is done: the policy acts from the next step (the operator starts
        watching it now, not during the reset)."""

    def send_transition(self, transition: Transition, episode_id: int) -> None: ...

    def episode_finished(self, record: dict) -> None:
        """Statistics of a finished episode (already written to the run's records)."""


class Recorder(Protocol):
    """Record mode: one recording per episode (hilserl_actor.recording)."""

    def start(self) -> None: ...

    def frames_written(self) -> int: ...

    def keep(self, success_frame: Optional[int]) -> None: ...

    def discard(self) -> None: ...


class ActorSession:
    """One actor's run: `run_episode()` until it returns False (evaluation done, stopping)."""

    def __init__(self, config: ActorConfig, loop: EpisodeLoop, io: ActorIO, log,
                 recorder: Optional[Recorder] = None, clock: Callable[[], float] = time.monotonic,
                 gate: Optional[RewardGate] = None):
        self.config = config
        self.loop = loop
        self.io = io
        self.gate = gate  # applied to the classifier's verdicts (reward_source classifier)
        self.gate_refusals = 0  # steps of this episode whose classifier success it refused
        self.last_gate_refusal = ''  # and why, the last time
        self.log = log  # .info/.warning(text): a logging.Logger or an rclpy logger
        self.recorder = recorder
        self.clock = clock
        self.layout = RunLayout(config.output_dir)
        self.layout.root.mkdir(parents=True, exist_ok=True)
        # Numbering continues after a restart (the learner sees new episode ids).
        self.episode_id = sum(len(self.layout.episodes(mode)) for mode in EPISODE_FILES)
        self.schedule = EvaluationSchedule(config, len(self.layout.episodes('train')))
        self._last_wait_log = -np.inf
        self._learner_missing_kind = ''  # why the last training episode could not start

    @property
    def policy_version(self) -> int:
        return int(self.loop.policy.version)

    def run_episode(self) -> bool:
        """One reset + episode; False when the actor is done (evaluation finished, stopping)."""
        evaluate = self.schedule.evaluating
        if self.schedule.finished:
            return False
        if self.config.mode == 'eval' and self.policy_version == 0:
            # Evaluating the random initial policy would measure nothing.
            self._waiting('waiting for policy weights (/policy_weights or policy_file)')
            self.io.wait_step()
            return True
        if self.io.paused():
            self.io.step_status(self._status(evaluate, waiting='paused by the operator'))
            self.io.wait_step()
            return True
        if self._learner_lost(evaluate):
            self.io.wait_step()
            return True
        if not self.io.reset():
            return not self.io.stopping()
        self._hold_weights(evaluate)
        self.loop.begin(self.io.snapshot().joints, evaluate)
        self.io.operator_event()  # a mark made between episodes belongs to none
        self.io.episode_started(self.episode_id, 'eval' if evaluate else self.config.mode)
        if self.recorder:
            self.recorder.start()
        return self._steps(evaluate)

    def _hold_weights(self, evaluate: bool) -> None:
        """An evaluation round acts with the weights it starts with (its success rate is one
        policy's); new weights that come during it are loaded before the next training
        episode. The policy is a PolicyClient (or has its `hold`)."""
        error = self.loop.policy.hold(evaluate)
        if error:
            self.log.warning(f'policy weights that came during the evaluation round refused: '
                             f'{error}')

    def _steps(self, evaluate: bool) -> bool:
        started = self.clock()
        paused_reason = ''
        success_frame = None
        outcome = None
        self.gate_refusals, self.last_gate_refusal = 0, ''
        self._span_s = [None, None]  # first and last step's time (the node's clock)
        carried = ''  # a mark made during a paused step counts at the next step that runs
        while not self.io.stopping():
            self.io.wait_step()
            event = self.io.operator_event() or carried
            carried = ''
            if event == 'rerecord':
                self.log.info('re-recording: episode discarded')
                if self.recorder:
                    self.recorder.discard()
                return True
            snapshot = self.io.snapshot()
            self._span_s = [self._span_s[0] or snapshot.now_s, snapshot.now_s]
            sim = self.io.sim_state() if self.config.sim else None
            self._judge(snapshot, event, evaluate, sim)
            if sim is not None and snapshot.joints is not None:
                outcome = outcome or SimOutcome(sim.cube_height_m)
                outcome.update(sim, self.loop.kinematics.position(snapshot.joints))
            result = self.loop.step(snapshot)
            self.io.step_status(self._status(evaluate, snapshot, result))
            if self.recorder and success_frame is None and self.loop.summary.success:
                success_frame = self.recorder.frames_written()
            if result.paused:
                if result.paused != paused_reason:
                    self.log.warning(f'episode paused: {result.paused}')
                paused_reason = result.paused
                carried = event
                continue
            paused_reason = ''
            if result.transition is not None and self.config.mode == 'train' and not evaluate:
                self.io.send_transition(result.transition, self.episode_id)
            if result.command is not None:
                self.io.command(result.command)
            if result.done or event == 'failure':
                self._finish(evaluate, self.clock() - started, outcome, success_frame)
                return True
        return False

    def _status(self, evaluate: bool, snapshot: Optional[Snapshot] = None, result=None,
                waiting: str = '') -> dict:
        """The operator's view of this step (ActorStatus): step, time left, reward, gate."""
        summary, max_steps = self.loop.summary, self.loop.max_steps
        intervening = bool(snapshot is not None and snapshot.intervention
                           and not self.loop.evaluating)
        gate = ''
        if self.gate is not None and self.config.reward_source == 'classifier' and snapshot:
            gate = self.gate.refusal(snapshot.joints)
        transition = getattr(result, 'transition', None)
        return {'episode': self.episode_id, 'mode': 'eval' if evaluate else self.config.mode,
                'step': summary.length, 'max_steps': max_steps,
                'time_left_s': (max_steps - summary.length) / self.config.control_rate_hz,
                'intervention': intervening or self.config.mode == 'record',
                'reward': float(transition.reward) if transition is not None else 0.0,
                'gate': gate, 'waiting': waiting or getattr(result, 'paused', '') or '',
                'paused': self.io.paused(), 'policy_version': self.policy_version}

    def _judge(self, snapshot: Snapshot, event: str, evaluate: bool,
               sim: Optional[SimState]) -> None:
        """Set the step's success: the operator's mark, else in simulated evaluations the
        simulation's (a policy is measured by what it did, not by what the classifier thought),
        else the reward input, a classifier's verdict passing the gate."""
        if event == 'success':
            snapshot.success, snapshot.success_time_s = True, snapshot.now_s
        elif evaluate and self.config.sim:
            snapshot.success = None if sim is None else sim.success
            snapshot.success_time_s = -np.inf if sim is None else sim.stamp_s
        elif (self.gate is not None and self.config.reward_source == 'classifier'
              and snapshot.success):
            refusal = self.gate.refusal(snapshot.joints)
            if refusal:
                snapshot.success = False
                self.gate_refusals += 1
                self.last_gate_refusal = refusal

    def _finish(self, evaluate: bool, duration_s: float, outcome: Optional[SimOutcome],
                success_frame: Optional[int]) -> None:
        record = self._record(self.loop.summary, duration_s, evaluate, outcome)
        self.io.episode_finished(record)
        if self.recorder:
            self.recorder.keep(success_frame)
        self.episode_id += 1
        summary = self.schedule.episode_done(evaluate, record)
        if summary is not None:
            append_record(str(self.layout.eval_rounds_path), summary)
            if self.config.mode == 'train':  # the policy the round judged, to deploy or judge on
                self.loop.policy.save(self.layout.round_policy_path(summary['policy_version']))
            mean_time = summary['mean_time_to_success_s']
            self.log.info(f'evaluation: {summary["success_rate"]:.0%} success over '
                          f'{summary["episodes"]} episodes (95% interval '
                          f'{interval_text(summary["success_interval"])}, policy '
                          f'v{summary["policy_version"]}, mean time to success '
                          f'{mean_time or float("nan"):.1f} s)')

    def _record(self, summary: EpisodeSummary, duration_s: float, evaluate: bool,
                outcome: Optional[SimOutcome]) -> dict:
        mode = 'eval' if evaluate else self.config.mode
        period_s = 1.0 / self.config.control_rate_hz
        record = {'episode': self.episode_id, 'mode': mode,
                  'return': float(summary.episode_return), 'length': summary.length,
                  'success': summary.success, 'steps_to_success': summary.steps_to_success,
                  'intervention_steps': summary.intervention_steps,
                  'policy_closes': summary.policy_closes,
                  'intervention_rate': float(summary.intervention_rate),
                  'policy_hz': summary.policy_hz(),
                  'loop_jitter_p99_ms': summary.jitter_p99_ms(period_s),
                  'policy_version': self.policy_version, 'duration_s': duration_s,
                  'gate_refusals': self.gate_refusals, 'last_gate_refusal': self.last_gate_refusal,
                  # on the clock of the stamps (sim time in a simulation that is not real
                  # time): what a journal of frames is matched to its episodes by
                  'start_s': self._span_s[0], 'end_s': self._span_s[1],
                  'wall_time': time.time(), **summary.input_ages_ms()}
        if summary.wall_step_times_s:  # on the wall clock: the same as on the node's in real time
            record.update(policy_hz_wall=summary.policy_hz(wall=True),
                          loop_jitter_p99_wall_ms=summary.jitter_p99_ms(period_s, wall=True))
        if outcome is not None:  # the simulation's own verdict, next to the reward's
            record.update(outcome.record())
        append_record(str(self.layout.episodes_path(mode)), record)
        self.log.info(
            f'{mode} episode {self.episode_id}: {"SUCCESS" if summary.success else "failure"} '
            f'return {summary.episode_return:.1f} length {summary.length} interventions '
            f'{summary.intervention_rate:.0%} {record["policy_hz"]:.1f} Hz '
            f'policy v{self.policy_version}')
        return record

    def _learner_lost(self, evaluate: bool) -> bool:
        """A training episode sends its transitions to the learner and acts with its weights:
        none starts before the learner takes /transitions (steps sent earlier would be lost),
        nor while the learner, once heard, has been silent for learner_silence_s. The episode
        under way when the silence began ends as usual (the link's reliable history keeps its
        transitions until the learner is back)."""
        kind, why = ('', '') if self.config.mode != 'train' or evaluate \
            else self._learner_missing()
        if kind != self._learner_missing_kind:
            self._learner_missing_kind = kind
            if kind:
                self.log.warning(f'waiting for the learner, {why}: no training episode starts '
                                 f'until it is there (is it running, is the link to its host '
                                 f'up?)')
            else:
                self.log.info('the learner is there: training episodes go on')
        if kind:
            self.io.step_status(self._status(evaluate, waiting=f'waiting for the learner: {why}'))
        return bool(kind)

    def _learner_missing(self) -> Tuple[str, str]:
        """('', '') when the learner can take an episode, else why not: a kind, and the words
        for the operator."""
        if not self.io.learner_listening():
            return 'unheard', 'nothing takes /transitions yet'
        silent = self.io.learner_silent_s()
        limit = self.config.learner_silence_s
        if limit > 0 and silent is not None and silent > limit:
            return 'silent', f'no word from it for {silent:.0f} s'
        return '', ''

    def _waiting(self, text: str) -> None:
        now = time.monotonic()
        if now - self._last_wait_log >= 10.0:
            self._last_wait_log = now
            self.log.info(text)
