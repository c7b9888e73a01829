"""What each node of the training graph costs, and whether the graph keeps time.

    source scripts/env.sh && python benchmarks/cpu_budget.py [--from runs/sim] [--episodes 20]
        [--real-time-factor 1.0] [--seed 0] [--set NODE.PARAM=VALUE ...]

Runs the main job's train stage (sim, simulated operator, kinematics, reward classifier, actor,
learner, markers, console with its page closed) for --episodes training episodes on the
demonstrations, encoder and reward classifier of a finished main job (--from: its stages
demos, encoder and classifier must be done), in a fresh output directory, with no evaluation
round and no mining. Nothing else should run meanwhile: the figures are the machine's.

Measured between the end of the first training episode (start-up and the first weights are
behind) and the end of the last:
- each node's share of one core: utime + stime of its process (/proc/PID/stat) over wall time;
- the simulation's speed: sim seconds per wall second of each episode (its span on the node
  clock over its duration on the wall clock);
- the actor's loop on the wall clock: steps per second and p99 |period - nominal period| (at
  real time the nominal period is 1 / control rate; slowed, it is longer by the factor);
- the learner's critic updates per env step.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict

import numpy as np
import yaml

from hilserl_common.run_layout import RunLayout

TICKS_PER_S = os.sysconf('SC_CLK_TCK')
FROM_RUN = ('demos', 'encoder', 'reward_classifier', 'classifier_data')
STAGES_DONE = ('demos', 'encoder', 'classifier')


def prepared_output(source: Path, output: Path) -> None:
    """The finished stages of `source` in `output`, so the main job goes straight to train."""
    for stage in STAGES_DONE:
        if not (source / 'stages' / f'{stage}.json').exists():
            raise SystemExit(f'{source} has not finished its {stage} stage '
                             f'({source}/stages/{stage}.json missing): run scripts/train_sim '
                             f'--output-dir {source} --skip train evaluate report first')
    (output / 'stages').mkdir(parents=True)
    for stage in STAGES_DONE:
        shutil.copy(source / 'stages' / f'{stage}.json', output / 'stages')
    for name in FROM_RUN:
        if (source / name).exists():
            shutil.copytree(source / name, output / name, symlinks=True)


def node_processes(parent: int) -> Dict[str, int]:
    """Node name -> pid of the processes `parent` started (named by their __node:= argument)."""
    nodes = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            ppid = int(Path(f'/proc/{entry}/stat').read_text().rsplit(')', 1)[1].split()[1])
            if ppid != parent:
                continue
            arguments = Path(f'/proc/{entry}/cmdline').read_bytes().split(b'\0')
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        names = [a.decode().split(':=', 1)[1] for a in arguments if a.startswith(b'__node:=')]
        if names:
            nodes[names[0]] = int(entry)
    return nodes


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process so far."""
    fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S


def sample(nodes: Dict[str, int]) -> Dict[str, float]:
    values = {}
    for name, pid in nodes.items():
        try:
            values[name] = cpu_seconds(pid)
        except (FileNotFoundError, ProcessLookupError):
            pass
    return values


def utd_between(stats: list, start: float, end: float) -> float:
    """Critic updates per env step between two wall times, from the learner's stats rows."""
    inside = [row for row in stats if start <= row['time'] <= end]
    if len(inside) < 2 or inside[-1]['env_steps'] == inside[0]['env_steps']:
        return float('nan')
    return ((inside[-1]['optimization_step'] - inside[0]['optimization_step'])
            / (inside[-1]['env_steps'] - inside[0]['env_steps']))


def print_figures(shares: Dict[str, float], episodes: list, utd: float, factor: float,
                  rate_hz: float) -> None:
    print(f'\nshare of one core over {len(episodes)} training episodes:')
    for name, share in sorted(shares.items(), key=lambda item: -item[1]):
        print(f'  {name:<20} {share:6.1%}')
    robot = sum(v for k, v in shares.items() if k != 'learner')
    print(f'  {"all but the learner":<20} {robot:6.1%}')
    speeds = np.array([(e['end_s'] - e['start_s']) / e['duration_s'] for e in episodes
                       if e.get('duration_s')])
    print(f'simulation speed (sim s per wall s, wanted {factor}): mean {speeds.mean():.2f}, '
          f'lowest episode {speeds.min():.2f}')
    wall_hz = np.array([e['policy_hz_wall'] for e in episodes])
    text = (f'actor on the wall clock (nominal {rate_hz * factor:.1f} Hz): mean '
            f'{wall_hz.mean():.2f} Hz, lowest episode {wall_hz.min():.2f} Hz')
    if factor == 1.0:  # the recorded jitter is against the control period, a real-time one
        jitter = np.array([e['loop_jitter_p99_wall_ms'] for e in episodes])
        text += (f'; p99 jitter per episode: median {np.median(jitter):.0f} ms, worst '
                 f'{jitter.max():.0f} ms')
    print(text)
    print(f'actor on the node clock: {np.mean([e["policy_hz"] for e in episodes]):.2f} Hz')
    print(f'learner: {utd:.2f} critic updates per env step')


def control_rate_hz() -> float:
    from hilserl_bringup.runner import default_config_dir
    task = yaml.safe_load(Path(default_config_dir(), 'task.yaml').read_text())
    return float(task['/**']['ros__parameters']['control_rate_hz'])


def run(args) -> None:
    source = Path(args.source).resolve()
    output = Path(tempfile.mkdtemp(prefix='cpu_budget_'))
    prepared_output(source, output)
    command = [sys.executable, '-m', 'hilserl_bringup.main_job', '--output-dir', str(output),
               '--episodes', str(args.episodes + 1), '--real-time-factor',
               str(args.real_time_factor), '--seed', str(args.seed), '--mine-after', '0',
               '--eval-every', str(10 * (args.episodes + 1)), '--console-port', '0',
               '--skip', 'evaluate', 'report']
    for setting in args.set:
        command += ['--set', setting]
    print(' '.join(command), flush=True)
    layout = RunLayout(output)
    job = subprocess.Popen(command)
    first = None
    try:
        while job.poll() is None:
            time.sleep(0.5)
            done = len(layout.episodes('train'))
            if first is None and done >= 1:
                nodes = node_processes(job.pid)
                first = (time.time(), time.monotonic(), sample(nodes))
                print(f'measuring {", ".join(sorted(nodes))} from episode 1', flush=True)
            if first is not None and done >= args.episodes + 1:
                last = (time.time(), time.monotonic(), sample(nodes))
                break
        else:
            raise SystemExit(f'the main job ended (exit {job.returncode}) before '
                             f'{args.episodes + 1} training episodes; see {output}/logs')
    finally:
        if job.poll() is None:
            job.send_signal(signal.SIGINT)
            job.wait()
    wall = last[1] - first[1]
    shares = {name: (last[2][name] - first[2][name]) / wall
              for name in first[2] if name in last[2]}
    episodes = layout.episodes('train')[1:args.episodes + 1]
    utd = utd_between(layout.learner_stats(), first[0], last[0])
    print_figures(shares, episodes, utd, args.real_time_factor, control_rate_hz())
    (output / 'cpu_budget.json').write_text(json.dumps(
        {'shares': shares, 'episodes': len(episodes), 'utd': utd,
         'real_time_factor': args.real_time_factor}, indent=1))
    print(f'records in {output}')


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--from', dest='source', default='runs/sim',
                        help='a main job output directory with demos, encoder and classifier done')
    parser.add_argument('--episodes', type=int, default=20)
    parser.add_argument('--real-time-factor', type=float, default=1.0)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--set', action='append', default=[], metavar='NODE.PARAM=VALUE')
    run(parser.parse_args())


if __name__ == '__main__':
    main()
