"""What the stored EE actions look like, per source: demonstrations (recorded in process by the
simulated operator in demo mode, written as episode bags and converted by the learner's own demo
loader), and the interventions and policy steps of training episodes (the actor's own session
on the simulated cell, hilserl_experiments.in_process, the operator correcting an untrained policy).
Prints, per source, the mean |a| per EE axis and the share of rows with any component at
|a| >= 0.99 (saturated): one action definition gives the same figures for the same motions.

    source scripts/env.sh && python benchmarks/action_sources.py [--demos 2] [--episodes 4]
        [--demo-dir runs/sim/demos] [--seed 0]

--demo-dir converts recorded demo bags (its successful episodes, labels.yaml) instead of
recording new ones. Nothing is learned: the learner never starts training.
"""
import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from hilserl_actor.config import ActorConfig
from hilserl_actor.episode import EpisodeLoop, Snapshot
from hilserl_actor.policy_client import PolicyClient
from hilserl_common.bags import EpisodeBagWriter
from hilserl_common.episode_labels import successful_episodes
from hilserl_common.preprocessing import IMAGE_SIZE
from hilserl_experiments.in_process import InProcessRun, InProcessSettings
from hilserl_learner.demos.loader import DemoSettings, load_demos
from so101_description.model import JOINT_NAMES
from so101_kinematics.kinematics import Kinematics
from so101_kinematics.reset import ResetConfig, ik_reset
from so101_sim.cell import SimulatedCell
from so101_sim.config import CellConfig
from so101_sim.operator import OperatorConfig, OperatorState, SimulatedOperator

SATURATED = 0.99
CONTROL_PERIOD_S = 0.1
SAMPLES_PER_PERIOD = 3      # joint states and frames at 30 Hz, as the sim node publishes them
MAX_DEMO_STEPS = 150
BLANK = np.zeros((IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)  # the loader's actions need no pixels
# A learner that never trains (training_starts out of reach), small so it is built quickly.
UNTRAINED = {'learner': {'training_starts': 10**9, 'latent_dim': 32, 'hidden_dims': [32],
                         'gripper_hidden_dims': [32], 'encoder': 'small_conv',
                         'image_encoder_hidden_dim': 8}}


def record_demo(cell: SimulatedCell, kinematics: Kinematics, bag: Path, seed: int) -> bool:
    """One scripted demonstration as the record graph makes it: the operator on the leader, the
    actor's episode loop mirroring it at 10 Hz, joint states and frames at 30 Hz. Returns the
    simulation's success."""
    cell.reset(seed)
    ik_reset(kinematics, ResetConfig(), cell.joint_positions, cell.set_joint_targets,
             lambda: cell.step(CONTROL_PERIOD_S), np.random.default_rng(seed))
    operator = SimulatedOperator(kinematics, OperatorConfig(mode='demo', seed=seed))
    loop = EpisodeLoop(ActorConfig(mode='record'), kinematics, PolicyClient(seed))
    loop.begin(cell.joint_positions())
    operator.new_episode()
    success = False
    with EpisodeBagWriter(bag, grasp_state=True) as writer:
        for _ in range(MAX_DEMO_STEPS):
            joints, now = cell.joint_positions(), cell.time_s
            still = bool(np.all(np.abs(cell.joint_velocities()) < 0.05))
            lead = operator.tick(joints, cell.grasp_info().cube_position, still)
            result = loop.step(Snapshot(now, joints, now, BLANK, now,
                                        leader_joints=lead.leader_joints,
                                        intervention=lead.intervention, leader_time_s=now))
            if result.command is not None:
                cell.set_joint_targets(result.command)
            stepped = 0.0  # whole timesteps: a third of 100 ms in 2 ms steps is 34 ms
            for k in range(1, SAMPLES_PER_PERIOD + 1):
                stepped += cell.step(CONTROL_PERIOD_S * k / SAMPLES_PER_PERIOD - stepped)
                success |= write_sample(writer, cell)
            if operator.state is OperatorState.WAITING:  # the demonstration is over
                break
    return success


def write_sample(writer: EpisodeBagWriter, cell: SimulatedCell) -> bool:
    stamp_ns = int(round(cell.time_s * 1e9))
    info = cell.grasp_info()
    writer.write_joint_state(stamp_ns, JOINT_NAMES, cell.joint_positions())
    writer.write_image(stamp_ns, BLANK)
    writer.write_grasp_state(stamp_ns, info.cube_position, info.cube_quat_wxyz,
                             info.gripper_contact, info.grasped, info.cube_height, info.success)
    return info.success


def demo_actions(args, work: Path) -> np.ndarray:
    if args.demo_dir:
        bags = successful_episodes(args.demo_dir)
        print(f'demos: {len(bags)} successful recorded episodes in {args.demo_dir}')
    else:
        kinematics = Kinematics()
        bags, successes = [], 0
        with SimulatedCell(CellConfig(seed=args.seed), render=False) as cell:
            for index in range(args.demos):
                bag = work / 'demos' / f'episode_{index:04d}'
                successes += record_demo(cell, kinematics, bag, args.seed + index)
                bags.append(str(bag))
        print(f'demos: {len(bags)} recorded in process ({successes} successful)')
    transitions = load_demos(bags, str(work / 'demo_cache'), DemoSettings())
    return np.array([t.action for t in transitions]).reshape(-1, 3)


def training_actions(args, work: Path):
    """(interventions, policy steps) of `args.episodes` training episodes."""
    settings = InProcessSettings(str(work / 'train'), utd=1, eval_every=0, seed=args.seed)
    run = InProcessRun(settings, UNTRAINED)
    try:
        run.train(args.episodes)
    finally:
        run.close()
    rows = run.learner.online.newest(len(run.learner.online))
    human = rows['is_intervention'].astype(bool)
    return rows['action'][human], rows['action'][~human]


def row(name: str, actions: np.ndarray) -> str:
    if not len(actions):
        return f'{name:<13} {0:>6}   (no rows)'
    magnitude = np.abs(actions)
    mean = ' '.join(f'{m:.2f}' for m in magnitude.mean(axis=0))
    saturated = np.mean(np.any(magnitude >= SATURATED, axis=1))
    return f'{name:<13} {len(actions):>6}   [{mean}]   {saturated:>6.0%}'


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--demos', type=int, default=2, help='demonstrations to record')
    parser.add_argument('--demo-dir', default='', help='convert these demo bags instead')
    parser.add_argument('--episodes', type=int, default=4, help='training episodes')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix='action_sources_') as directory:
        work = Path(directory)
        demos = demo_actions(args, work)
        interventions, policy = training_actions(args, work)
    print(f'\n{"source":<13} {"rows":>6}   mean |a| (x y z)    |a|>={SATURATED}')
    for name, actions in (('demo', demos), ('intervention', interventions),
                          ('policy', policy)):
        print(row(name, actions))
    print(f'({time.monotonic() - started:.0f} s)')


if __name__ == '__main__':
    main()
