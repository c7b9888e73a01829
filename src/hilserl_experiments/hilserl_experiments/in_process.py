"""HIL-SERL in one process, without ROS, for measuring sample efficiency.

The actor's own session (hilserl_actor.session.ActorSession: resets, episodes, evaluation rounds,
records) runs against `InProcessIO`: a SimulatedCell stepped by exactly one control period per
step, the SimulatedOperator's leader, the learner fed every transition and trained with exactly
its `utd_ratio` critic updates per env step (what the graph holds), and new weights loaded every
`weights_every_steps` steps (the graph broadcasts every 2 s: 20 steps at 10 Hz). Nothing shares
the CPU and nothing is late, so variants are compared at a fixed update budget; the records
land in the same run layout as a graph run's (episodes.jsonl, eval_rounds.jsonl), which the
report reads.

Configuration comes from the same parameter files the train graph gives each node
(hilserl_bringup.graph), plus overrides.
"""
import dataclasses
import logging
from pathlib import Path
from typing import Dict, Optional, Sequence

import numpy as np

from hilserl_actor.config import ActorConfig
from hilserl_actor.episode import EpisodeLoop, Snapshot
from hilserl_actor.policy_client import PolicyClient
from hilserl_actor.session import ActorSession, SimState
from hilserl_bringup.graph import GRAPH_ARGUMENTS, GRAPHS
from hilserl_common.config import fields, from_dict, load_yaml_section
from hilserl_common.preprocessing import preprocess
from hilserl_common.transition import Transition
from hilserl_learner.config import STATE_DIM, LearnerConfig
from hilserl_learner.demos.loader import DemoSettings, load_demos
from hilserl_learner.training.learner import Learner
from so101_kinematics.kinematics import Kinematics, KinematicsConfig
from so101_kinematics.proprioception import PRIVILEGED_DIM, privileged_cube_offset
from so101_kinematics.reset import ResetConfig, ik_reset
from so101_sim.cell import SimulatedCell
from so101_sim.config import CellConfig
from so101_sim.operator import OperatorConfig, SimulatedOperator

# The plain config classes of a run, by the node whose parameters they are part of.
CONFIG_CLASSES = {'learner': ('learner', LearnerConfig), 'operator': ('operator', OperatorConfig),
                  'sim': ('sim', CellConfig), 'actor': ('actor', ActorConfig),
                  'kinematics': ('kinematics', KinematicsConfig), 'reset': ('actor', ResetConfig)}
LOGGER = logging.getLogger('in_process')


def parameter_files() -> Dict[str, Sequence[str]]:
    """Node name -> the parameter files the train graph gives it, in order (graph.py)."""
    defaults = {argument.name: argument.default for argument in GRAPH_ARGUMENTS['train']}
    return {spec.name: spec.params_files for spec in GRAPHS['train'](defaults)}


def config_dir() -> Path:
    """The installed parameter files (config/ of the workspace)."""
    from ament_index_python.packages import get_package_share_directory
    return Path(get_package_share_directory('hilserl_bringup')) / 'config'


def build_config(name: str, overrides: Dict[str, dict], **fixed):
    """A config class from the node's parameter files + overrides, keeping only its fields
    (the files also hold node parameters these plain classes do not have)."""
    node, config_class = CONFIG_CLASSES[name]
    values = {}
    for file_name in parameter_files()[node]:
        values.update(load_yaml_section(str(config_dir() / file_name), node))
    values.update(overrides.get(name, {}))
    values.update(fixed)
    known = {f.name for f in fields(config_class)}
    return from_dict(config_class, {k: v for k, v in values.items() if k in known},
                     f'{name} configuration')


@dataclasses.dataclass(frozen=True)
class InProcessSettings:
    output_dir: str
    utd: float = 0.0                   # critic updates per env step (0: the learner
    #                                    configuration's utd_ratio, which the graph holds)
    weights_every_steps: int = 20      # env steps between policy refreshes
    privileged_state: bool = False     # append the cube's position relative to the jaws
    operator_off: bool = False
    demos: Sequence[str] = ()          # recorded demo episodes (bag directories)
    eval_every: int = 20               # training episodes between evaluation rounds (0: none)
    eval_episodes: int = 20
    seed: int = 0
    policy_file: str = ''              # act with this saved policy and learn nothing
    # How old the joints and the wrist frame are when the actor takes them (s): a graph's
    # sensors publish at 30 Hz, so what the actor finds at its step is up to 33 ms old.
    sensor_age_s: float = 0.0
    evaluate_only: bool = False        # eval_episodes deterministic episodes, no training


class InProcessIO:
    """The ActorIO of a SimulatedCell stepped in lockstep with the session."""

    def __init__(self, run: 'InProcessRun'):
        self.run = run
        self.cell = run.cell
        self.period_s = 1.0 / run.actor_config.control_rate_hz
        self.now_s = 0.0
        self.lead = None  # the operator's output for the current step
        self.sensed = None  # (joints, processed frame) sensor_age_s before the step
        self.rng = np.random.default_rng(run.settings.seed)
        self.steps_since_weights = 0

    def advance(self) -> None:
        """One control period of physics, then the operator's decision for the next step."""
        age = self.run.settings.sensor_age_s
        if age > 0:
            advanced = self.cell.step(self.period_s - age)
            self.sensed = self._sense()
            advanced += self.cell.step(age)
        else:
            advanced = self.cell.step(self.period_s)
        self.now_s += advanced  # the physics' own time: steps round to whole timesteps
        info = self.cell.grasp_info()
        self.lead = self.run.operator.tick(self.cell.joint_positions(), info.cube_position)

    def wait_step(self) -> None:
        self.advance()

    def stopping(self) -> bool:
        return False

    def _sense(self):
        """(joints, processed wrist frame) as the arm is now."""
        return self.cell.joint_positions(), preprocess(self.cell.render())

    def snapshot(self) -> Snapshot:
        now = self.now_s
        if self.sensed is not None:
            (joints, frame), sensed_s = self.sensed, now - self.run.settings.sensor_age_s
        else:
            (joints, frame), sensed_s = self._sense(), now
        info = self.cell.grasp_info()
        lead = self.lead
        privileged = None
        if self.run.settings.privileged_state:
            privileged = privileged_cube_offset(self.run.kinematics, joints, info.cube_position)
        return Snapshot(now, joints, sensed_s, frame, sensed_s, info.success, now,
                        None if lead is None else lead.leader_joints,
                        bool(lead is not None and lead.intervention), privileged)

    def sim_state(self) -> SimState:
        info = self.cell.grasp_info()
        return SimState(info.success, info.gripper_contact, info.grasped, info.cube_position,
                        info.cube_height, self.now_s)

    def operator_event(self) -> str:
        return ''

    def paused(self) -> bool:
        return False

    def learner_listening(self) -> bool:
        return True

    def learner_silent_s(self) -> Optional[float]:
        return 0.0  # the learner runs in lockstep in this process

    def step_status(self, status: dict) -> None:
        pass  # no operator watches an in-process run

    def reset(self) -> bool:
        self.cell.reset(int(self.rng.integers(0, 2**31 - 1)))
        self.lead = None
        outcome = ik_reset(self.run.kinematics, self.run.reset_config, self.cell.joint_positions,
                           self.cell.set_joint_targets, self.advance, self.rng)
        return outcome.accepted

    def command(self, joints: np.ndarray) -> None:
        self.cell.set_joint_targets(joints)

    def episode_started(self, episode_id: int, mode: str) -> None:
        self.run.operator.new_episode()

    def send_transition(self, transition: Transition, episode_id: int) -> None:
        if self.run.settings.policy_file:
            return  # a saved policy is looked at, not trained
        learner = self.run.learner
        learner.submit(transition, 'in_process', episode_id)
        learner.ingest()
        while learner.train_step():
            pass
        self.steps_since_weights += 1
        if self.steps_since_weights >= self.run.settings.weights_every_steps:
            self.steps_since_weights = 0
            self.run.refresh_policy()

    def episode_finished(self, record: dict) -> None:
        self.run.operator.episode_ended(record['mode'], record['success'])
        if (record['mode'] == 'train' and self.run.learner.optimization_step
                and not self.run.settings.policy_file):
            self.run.learner.save_policy()  # <output_dir>/learner/policy.safetensors


class InProcessRun:
    """Learner, simulated cell, operator and the actor's session, wired as one process."""

    def __init__(self, settings: InProcessSettings, overrides: Optional[Dict[str, dict]] = None,
                 log=LOGGER):
        overrides = overrides or {}
        self.settings = settings
        out = Path(settings.output_dir)
        state_dim = STATE_DIM + (PRIVILEGED_DIM if settings.privileged_state else 0)
        fixed = {'run_dir': str(out / 'learner'), 'state_dim': state_dim, 'seed': settings.seed}
        if settings.utd:
            fixed['utd_ratio'] = settings.utd
        self.learner = Learner(build_config('learner', overrides, **fixed))
        self.actor_config = build_config(
            'actor', overrides, reward_source='sim', sim=True, output_dir=str(out),
            mode='eval' if settings.evaluate_only else 'train',
            eval_every_episodes=settings.eval_every, eval_episodes=settings.eval_episodes,
            eval_round_episodes=settings.eval_episodes, seed=settings.seed)
        self.kinematics = Kinematics(build_config('kinematics', overrides))
        self.reset_config = build_config('reset', overrides)
        self.operator = SimulatedOperator(self.kinematics, build_config(
            'operator', overrides, mode='off' if settings.operator_off else 'corrections',
            seed=settings.seed))
        self.cell = SimulatedCell(build_config('sim', overrides, seed=settings.seed))
        self.policy = PolicyClient(settings.seed)
        if settings.policy_file:
            error = self.policy.load_file(settings.policy_file)
            if error:
                raise ValueError(f'{settings.policy_file}: {error}')
        self.io = InProcessIO(self)
        loop = EpisodeLoop(self.actor_config, self.kinematics, self.policy)
        self.session = ActorSession(self.actor_config, loop, self.io, log,
                                    clock=lambda: self.io.now_s)
        if settings.demos:
            self.add_demos(settings.demos, log)

    def add_demos(self, bags: Sequence[str], log) -> None:
        config = self.actor_config
        settings = DemoSettings(config.control_rate_hz, config.action_scale,
                                config.gripper_change_threshold_rad)
        settings = dataclasses.replace(settings, privileged_state=self.settings.privileged_state)
        demos = load_demos(list(bags), self.learner.config.demo_cache_dir, settings)
        self.learner.add_demos(demos)
        log.info(f'{len(bags)} demo episodes, {len(demos)} transitions')

    def refresh_policy(self) -> None:
        if self.learner.optimization_step == 0:
            return
        weights = self.learner.snapshot_weights()
        error = self.policy.load_bytes(weights.data, weights.sha256, weights.version)
        if error:
            raise RuntimeError(f'the learner\'s own weights were refused: {error}')

    def train(self, episodes: int) -> None:
        """Until `episodes` training episodes are done (evaluation rounds on top)."""
        while self.session.schedule.train_episodes < episodes or self.session.schedule.evaluating:
            self.session.run_episode()

    def evaluate(self) -> None:
        """The deterministic episodes of an `evaluate_only` run."""
        while self.session.run_episode():
            pass

    def close(self) -> None:
        self.cell.close()  # the GL context: before the interpreter tears EGL down
