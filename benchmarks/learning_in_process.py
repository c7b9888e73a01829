"""Sample efficiency of HIL-SERL on the simulated cell, in one process and without ROS: the same
plain-Python parts the nodes wrap (SimulatedCell, IK reset, EpisodeLoop, SimulatedOperator,
Learner, Policy), stepped in lockstep with `--utd` critic updates per environment step. With no
graph sharing the CPU, variants can be compared at a fixed update budget; this is how the
defaults of config/learner.yaml and the operator section of config/sim.yaml were chosen.

    source scripts/env.sh && python benchmarks/learning_in_process.py --demos runs/sim/demos
        [--episodes 60] [--utd 2] [--eval-every 20] [--eval-episodes 20]
        [--set learner.bc_weight=0] [--set operator.correction_steps=8] [--no-demos]
        [--operator-off]

Prints the training success and intervention rate every 10 episodes and the deterministic
evaluation success (a separate cell with its own seeds, operator off) at every round. Rewards
are the simulation's privileged success, so the reward classifier's errors are left out.
Demos are the bags a main job recorded (`<output_dir>/demos/episode_*`).
A 60-episode run takes ~10 min on one core of the 2-core development machine.
"""
import argparse
import glob
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from hilserl_actor.config import ActorConfig
from hilserl_actor.episode import EpisodeLoop, Snapshot
from hilserl_bringup.graph import GRAPH_ARGUMENTS, GRAPHS
from hilserl_common.config import fields, from_dict, load_yaml_section
from hilserl_learner.config import LearnerConfig
from hilserl_learner.demos.loader import DemoSettings, load_demos
from hilserl_learner.policy.policy import Policy
from hilserl_learner.replay.buffer import Transition
from hilserl_learner.training.learner import Learner
from so101_driver.sim.cell import SimulatedCell
from so101_driver.sim.config import CellConfig
from so101_driver.sim.operator import OperatorConfig, SimulatedOperator
from so101_kinematics.kinematics import Kinematics, KinematicsConfig
from so101_kinematics.reset import ResetConfig, ik_reset

CONFIG_DIR = Path(__file__).resolve().parent.parent / 'config'
# The plain config classes built here, by the node whose parameters they are part of.
CONFIG_CLASSES = {'learner': ('learner', LearnerConfig), 'operator': ('operator', OperatorConfig),
                  'sim': ('sim', CellConfig), 'actor': ('actor', ActorConfig),
                  'kinematics': ('kinematics', KinematicsConfig), 'reset': ('actor', ResetConfig)}


def parameter_files() -> dict:
    """Node name -> the parameter files the train graph gives it, in order (graph.py)."""
    defaults = {argument.name: argument.default for argument in GRAPH_ARGUMENTS['train']}
    return {spec.name: spec.params_files for spec in GRAPHS['train'](defaults)}


def build(name: str, overrides: dict, **fixed):
    """A config class from the node's parameter files + --set values, keeping only its fields
    (the files also hold node parameters these plain classes do not have)."""
    node, config_class = CONFIG_CLASSES[name]
    values = {}
    for file_name in parameter_files()[node]:
        values.update(load_yaml_section(str(CONFIG_DIR / file_name), node))
    values.update(overrides.get(name, {}))
    values.update(fixed)
    known = {f.name for f in fields(config_class)}
    return from_dict(config_class, {k: v for k, v in values.items() if k in known},
                     f'{name} configuration')


def parse_sets(items):
    overrides = {}
    for item in items:
        key, sep, text = item.partition('=')
        node, dot, param = key.partition('.')
        if not sep or not dot or node not in CONFIG_CLASSES:
            sys.exit(f'--set {item!r}: expected NODE.PARAM=VALUE with NODE one of '
                     f'{", ".join(CONFIG_CLASSES)}')
        overrides.setdefault(node, {})[param] = yaml.safe_load(text)
    return overrides


class InProcessRun:
    def __init__(self, args):
        overrides = parse_sets(args.set)
        self.utd = args.utd
        self.learner = Learner(build('learner', overrides, run_dir=tempfile.mkdtemp(),
                                     utd_ratio=args.utd))
        self.actor_config = build('actor', overrides, reward_source='sim', mode='train')
        self.kinematics = Kinematics(build('kinematics', overrides))
        self.reset_config = build('reset', overrides)
        self.operator = SimulatedOperator(self.kinematics, build(
            'operator', overrides, mode='off' if args.operator_off else 'corrections'))
        self.train_cell = SimulatedCell(build('sim', overrides, seed=1))
        self.eval_cell = SimulatedCell(build('sim', overrides, seed=1000))
        self.loop = EpisodeLoop(self.actor_config, self.kinematics, self.act)
        self.rng = np.random.default_rng(0)
        self.policy = None
        self.clock_s = 0.0  # one clock across episodes, as a node's
        self.episode_id = 0
        if not args.no_demos:
            self.add_demos(args.demos)

    def add_demos(self, folder: str):
        bags = sorted(glob.glob(os.path.join(folder, 'episode_*')))
        if not bags:
            sys.exit(f'no demo bags (episode_*) in {folder}: run the main job\'s demos stage '
                     'first, or pass --no-demos')
        config = self.learner.config
        settings = DemoSettings(self.actor_config.control_rate_hz, self.actor_config.action_scale,
                                self.actor_config.gripper_change_threshold_rad)
        demos = load_demos(bags, config.demo_cache_dir, settings)
        self.learner.add_demos(demos)
        print(f'{len(bags)} demo bags, {len(demos)} transitions', flush=True)

    def act(self, state, image, deterministic):
        if self.policy is None:  # before the first update, as the actor before any weights
            return self.rng.uniform(-1, 1, 3), int(self.rng.integers(0, 3))
        return self.policy.act(state, image, deterministic)

    def episode(self, cell: SimulatedCell, evaluate: bool):
        cell.reset()
        ik_reset(self.kinematics, self.reset_config, cell.joint_positions,
                 cell.set_joint_targets, lambda: cell.step(0.1), self.rng)
        self.loop.begin(cell.joint_positions(), evaluate=evaluate)
        if not evaluate:
            self.operator.new_episode()
        period = 1.0 / self.actor_config.control_rate_hz
        while True:
            joints = cell.joint_positions()
            lead = None if evaluate else self.operator.tick(joints, cell.cube_position())
            now = self.clock_s
            snapshot = Snapshot(now, joints, now, cell.render(), now, cell.grasp_info().success,
                                now, None if lead is None else lead.leader_joints,
                                bool(lead is not None and lead.intervention))
            result = self.loop.step(snapshot)
            if result.transition is not None and not evaluate:
                self.learn(result.transition)
            if result.command is not None:
                cell.set_joint_targets(result.command)
            if result.done:
                break
            cell.step(period)
            self.clock_s += period
        self.operator.episode_ended()
        return self.loop.summary

    def learn(self, t):
        self.learner.submit(Transition(t.state, t.image, t.action, t.gripper_action, t.reward,
                                       t.next_state, t.next_image, t.terminated, t.truncated,
                                       t.is_intervention), 'in_process', self.episode_id)
        self.learner.ingest()
        while self.learner.train_step():
            pass

    def refresh_policy(self):
        if self.learner.optimization_step == 0:
            return
        weights = self.learner.snapshot_weights()
        if self.policy is None:
            self.policy = Policy.from_weights(weights.data, weights.sha256)
        else:
            self.policy.load_weights(weights.data, weights.sha256)

    def close(self):
        self.train_cell.close()  # GL contexts: before the interpreter tears EGL down
        self.eval_cell.close()

    def evaluate(self, episodes: int) -> float:
        return float(np.mean([self.episode(self.eval_cell, True).success
                              for _ in range(episodes)]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--demos', default='runs/sim/demos', help='folder of demo bags')
    parser.add_argument('--no-demos', action='store_true')
    parser.add_argument('--operator-off', action='store_true', help='no corrections')
    parser.add_argument('--episodes', type=int, default=60)
    parser.add_argument('--utd', type=int, default=2, help='critic updates per env step (a '
                        '2-core CPU running the graph manages ~2)')
    parser.add_argument('--eval-every', type=int, default=20)
    parser.add_argument('--eval-episodes', type=int, default=20)
    parser.add_argument('--set', action='append', default=[], metavar='NODE.PARAM=VALUE',
                        help=f'a parameter of {", ".join(CONFIG_CLASSES)}')
    args = parser.parse_args()
    torch.set_num_threads(1)
    run = InProcessRun(args)
    try:
        train_and_evaluate(run, args)
    finally:
        run.close()


def train_and_evaluate(run: InProcessRun, args):
    start = time.monotonic()
    successes, interventions = [], []
    for episode in range(1, args.episodes + 1):
        run.episode_id = episode
        summary = run.episode(run.train_cell, evaluate=False)
        successes.append(summary.success)
        interventions.append(summary.intervention_rate)
        run.refresh_policy()
        if episode % 10 == 0:
            print(f'episode {episode}: training success (last 10) {np.mean(successes[-10:]):.0%}, '
                  f'interventions {np.mean(interventions[-10:]):.0%}, critic updates '
                  f'{run.learner.optimization_step}, {time.monotonic() - start:.0f} s',
                  flush=True)
        if episode % args.eval_every == 0 or episode == args.episodes:
            rate = run.evaluate(args.eval_episodes)
            print(f'  evaluation after {episode} episodes: {rate:.0%} of {args.eval_episodes}',
                  flush=True)


if __name__ == '__main__':
    main()
