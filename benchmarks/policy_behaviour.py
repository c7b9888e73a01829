"""How a saved policy acts on the simulated cell, deterministically (as evaluation rounds act) and
with sampled actions (as training episodes act, here without the operator's corrections), from
the same start states, in one process without ROS (hilserl_experiments.in_process).

    source scripts/env.sh && python benchmarks/policy_behaviour.py
        --policy runs/sim/round_policies/policy_v564.safetensors [--episodes 20] [--seed 0]
        [--sensor-age-ms 0] [--no-sampled] [--output-dir DIR]

Prints each way's success and, for the failures, where they ended (the simulation's stage) and
what the policy did with the gripper; every step (EE position, action, gripper command, the
cube's height, the jaws' contact) goes to DIR/steps_<way>.jsonl for a closer look. The frame
and the joints are taken at the step, or --sensor-age-ms before it (in a graph, 30 Hz sensors
make them 0-33 ms old).
"""
import argparse
import json
import logging
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from hilserl_common.records import append_record
from hilserl_common.run_layout import RunLayout
from hilserl_experiments.in_process import InProcessRun, InProcessSettings
from hilserl_learner.policy.weights import read_metadata
from so101_kinematics.action_space import GripperAction


class TracedPolicy:
    """The session's policy, each call written down with the simulation's state at the step."""

    def __init__(self, run: InProcessRun, path: Path):
        self.run, self.policy, self.path = run, run.session.loop.policy, path

    def __getattr__(self, name):
        return getattr(self.policy, name)

    def __call__(self, state, image, deterministic):
        action, gripper = self.policy(state, image, deterministic)
        cell = self.run.cell
        info = cell.grasp_info()
        # the policy acts at every step here (no operator): the steps completed so far
        step = self.run.session.loop.summary.length
        append_record(str(self.path), {
            'episode': self.run.session.episode_id, 'step': step,
            'ee_m': np.round(self.run.kinematics.position(cell.joint_positions()), 4).tolist(),
            'action': np.round(np.asarray(action, float), 3).tolist(),
            'gripper': GripperAction(gripper).name,
            'cube_height_m': round(float(info.cube_height), 4),
            'contact': bool(info.gripper_contact), 'grasped': bool(info.grasped)})
        return action, gripper


def act(policy_file: str, episodes: int, seed: int, deterministic: bool, output: Path,
        sensor_age_s: float) -> list:
    """The episode records of `episodes` episodes acted one way."""
    way = 'deterministic' if deterministic else 'sampled'
    settings = InProcessSettings(str(output / way), operator_off=True, eval_every=0,
                                 eval_episodes=episodes, seed=seed, policy_file=policy_file,
                                 evaluate_only=deterministic, sensor_age_s=sensor_age_s)
    # the learner, which learns nothing here, with the policy's backbone (no warning about a
    # random one)
    with open(policy_file, 'rb') as stream:
        networks = json.loads(read_metadata(stream.read())['policy_config'])
    overrides = {'learner': {'encoder_weights': networks['encoder_weights']}}
    run = InProcessRun(settings, overrides, log=logging.getLogger('quiet'))
    run.session.loop.policy = TracedPolicy(run, output / f'steps_{way}.jsonl')
    try:
        if deterministic:
            run.evaluate()
        else:
            run.train(episodes)
    finally:
        run.close()
    layout = RunLayout(str(output / way))
    return layout.episodes('eval' if deterministic else 'train')


def describe(way: str, records: list) -> None:
    successes = sum(r['success'] for r in records)
    print(f'{way}: {successes} of {len(records)} successful '
          f'({100 * successes / max(len(records), 1):.0f}%)')
    failures = [r for r in records if not r['success']]
    if failures:
        stages = Counter(r['sim_stage'] for r in failures)
        print('  failures by stage: ' + ', '.join(f'{k} {v}' for k, v in stages.most_common()))
        print('  steps the policy chose "close", per failure: '
              + ' '.join(str(r['policy_closes']) for r in failures))


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--policy', required=True, help='a policy the learner saved')
    parser.add_argument('--episodes', type=int, default=20, help='episodes of each way')
    parser.add_argument('--seed', type=int, default=0, help='the start states\' seed')
    parser.add_argument('--sensor-age-ms', type=float, default=0.0,
                        help='how old the joints and the frame are at each step (a graph\'s '
                        '30 Hz sensors: 0-33 ms)')
    parser.add_argument('--sampled', action=argparse.BooleanOptionalAction, default=True,
                        help='also act with sampled actions')
    parser.add_argument('--output-dir', default='', help='steps and records (default: a '
                        'temporary folder)')
    args = parser.parse_args()
    if not Path(args.policy).is_file():
        raise SystemExit(f'{args.policy}: no such policy file')
    torch.set_num_threads(1)
    output = Path(args.output_dir or tempfile.mkdtemp(prefix='policy_behaviour_'))
    output.mkdir(parents=True, exist_ok=True)
    print(f'records in {output}', flush=True)
    for deterministic in (True, False) if args.sampled else (True,):
        records = act(args.policy, args.episodes, args.seed, deterministic, output,
                      args.sensor_age_ms / 1000)
        describe('deterministic' if deterministic else 'sampled', records)


if __name__ == '__main__':
    main()
