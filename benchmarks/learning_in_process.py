"""Sample efficiency of HIL-SERL on the simulated cell, in one process and without ROS: the actor
node's own episode code (ActorSession) on a SimulatedCell stepped in lockstep with a learner that
does exactly `--utd` critic updates per env step (hilserl_experiments.in_process). With no graph
sharing the CPU, variants compare at a fixed update budget. Rewards are the simulation's own
success, so the reward classifier's errors are left out.

The diagnostic ladder, one experiment per rung (hilserl_experiments/experiments/):
    (a) privileged state, simulation reward: the learner itself (goal: >= 95% within 100
        episodes, no round below 90% after that through 200)
        python benchmarks/learning_in_process.py --experiment rung_a_privileged
    (b) images, simulation reward: what the policy can see (goal: >= 85% within 200 episodes,
        and held)
        python benchmarks/learning_in_process.py --experiment rung_b_images
    (c) images, classifier AND gate reward: the main job, scripts/train_sim

    source scripts/env.sh && python benchmarks/learning_in_process.py [--experiment NAME_OR_FILE]
        [--demos runs/sim/demos] [--no-demos] [--operator-off] [--episodes 60] [--utd 2]
        [--eval-every 20] [--eval-episodes 20] [--sensor-age-ms 0] [--set learner.bc_weight=0]
        [--output-dir DIR]

Prints the training success and intervention share of the last 20 episodes every 10 episodes
and each deterministic evaluation round (the simulation's success, operator off). Records go to
--output-dir in the layout of a graph run: `python -m hilserl_experiments.report DIR` plots them.
"""
import argparse
import logging
import sys
import tempfile
import time

import torch

from hilserl_common.episode_labels import successful_episodes
from hilserl_common.figures import training_text, updates_per_env_step
from hilserl_common.overrides import OverrideError, parse_overrides
from hilserl_common.records import append_record
from hilserl_common.run_layout import RunLayout
from hilserl_experiments.experiment import parse_with_experiment
from hilserl_experiments.in_process import CONFIG_CLASSES, InProcessRun, InProcessSettings


def summary(layout: RunLayout) -> str:
    """The figures of the run's records so far (hilserl_common.figures, as the main job's
    progress line, the console and the report show them) and the learner's latest terms."""
    episodes, stats = layout.episodes('train'), layout.learner_stats()
    text = f'episode {len(episodes)}: {training_text(episodes)}'
    if stats:
        last, per_step = stats[-1], updates_per_env_step(stats)
        text += (f', critic updates {last["optimization_step"]} '
                 f'({"—" if per_step is None else f"{per_step:.1f}"} per env step), '
                 f'temperature {last["temperature"]:.3f}, entropy {last["entropy"]:.2f}, '
                 f'actor loss terms: entropy {last["actor_entropy_term"]:.3f} Q '
                 f'{last["actor_q_term"]:.3f} BC {last["actor_bc_term"]:.3f}')
    return text


class Progress(logging.Logger):
    """The session's log, quiet but for evaluation rounds, plus a line every 10 episodes."""

    def __init__(self, layout: RunLayout, learner):
        super().__init__('in_process')
        self.layout, self.learner = layout, learner
        self.started = time.monotonic()
        self.reported = 0

    def info(self, text, *args, **kwargs):
        if text.startswith('evaluation:'):
            print(f'  {text}', flush=True)
        episodes = self.layout.episodes('train')
        if len(episodes) >= self.reported + 10:
            self.reported = len(episodes) // 10 * 10
            # what the report plots, and the summary's learner figures
            append_record(str(self.layout.learner_stats_path), self.learner.stats())
            print(f'{summary(self.layout)}, {time.monotonic() - self.started:.0f} s',
                  flush=True)

    def warning(self, text, *args, **kwargs):
        if not text.startswith('episode paused'):
            print(f'  warning: {text}', flush=True)


def parse_options(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--demos', default='runs/sim/demos', help='folder of demo bags')
    parser.add_argument('--no-demos', action='store_true')
    parser.add_argument('--operator-off', action='store_true', help='no corrections')
    parser.add_argument('--privileged-state', action='store_true',
                        help='rung (a): append the cube\'s offset from the EE to the state')
    parser.add_argument('--episodes', type=int, default=60)
    parser.add_argument('--utd', type=float, default=0.0, help='critic updates per env step '
                        '(default: the learner\'s utd_ratio, which the graph holds)')
    parser.add_argument('--eval-every', type=int, default=20)
    parser.add_argument('--eval-episodes', type=int, default=20)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--sensor-age-ms', type=float, default=0.0,
                        help='the joints and the wrist frame taken this long before each step '
                        '(a graph\'s 30 Hz sensors: 0-33 ms)')
    parser.add_argument('--output-dir', default='', help='records (default: a temporary one)')
    parser.add_argument('--set', action='append', default=[], metavar='NODE.PARAM=VALUE',
                        help=f'a parameter of {", ".join(CONFIG_CLASSES)}')
    return parse_with_experiment(parser, argv)


def main():
    args = parse_options()
    try:
        overrides = parse_overrides(args.set, CONFIG_CLASSES)
    except OverrideError as error:
        sys.exit(str(error))
    torch.set_num_threads(1)
    # the successful demonstrations only, as the main job gives the learner
    demos = [] if args.no_demos else successful_episodes(args.demos)
    if not args.no_demos and not demos:
        sys.exit(f'no successful demo episodes in {args.demos} (labels.yaml): run the main '
                 'job\'s demos stage first, or pass --no-demos')
    output_dir = args.output_dir or tempfile.mkdtemp(prefix='in_process_')
    settings = InProcessSettings(output_dir, args.utd, privileged_state=args.privileged_state,
                                 operator_off=args.operator_off, demos=demos,
                                 eval_every=args.eval_every, eval_episodes=args.eval_episodes,
                                 seed=args.seed, sensor_age_s=args.sensor_age_ms / 1000)
    run = InProcessRun(settings, overrides, log=logging.getLogger('quiet'))
    run.session.log = Progress(RunLayout(output_dir), run.learner)
    print(f'records in {output_dir}; {len(run.learner.demo)} demo transitions', flush=True)
    try:
        run.train(args.episodes)
    finally:
        run.close()


if __name__ == '__main__':
    main()
