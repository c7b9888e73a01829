"""What each node of the training graph costs, and whether the graph keeps time.

    source scripts/env.sh && python benchmarks/cpu_budget.py train [--from runs/sim]
        [--episodes 20] [--real-time-factor 1.0] [--seed 0] [--set NODE.PARAM=VALUE ...]
    source scripts/env.sh && python benchmarks/cpu_budget.py robot [--from runs/sim]
        [--episodes 5]

train: the main job's train stage (sim, simulated operator, kinematics, reward classifier,
actor, learner, markers, console with its page closed) for --episodes training episodes on the
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

robot: the robot side of the real-arm training graph, what a small computer next to the arm
runs when the learner is elsewhere: follower and leader drivers on emulated buses (the real
Feetech protocol through the real SDK, served from this process), a wrist and a front camera
node each reading a video file through OpenCV, kinematics, the reward classifier of --from and
the actor (acting with the policy --from's learner saved, as with a learner's weights; a
subscription of this process takes its transitions, as the learner's host would). Each node's
share of one core over --episodes training episodes, and the actor's timing on the wall clock.
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

from hilserl_common.figures import updates_per_env_step
from hilserl_common.overrides import OverrideError, parse_overrides
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


def stat_fields(pid) -> list:
    """The fields of /proc/PID/stat after the command name (which may hold spaces): state,
    ppid, ..., utime and stime at 11 and 12."""
    return Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()


def node_processes(parent: int) -> Dict[str, int]:
    """Node name -> pid of the processes `parent` started (named by their __node:= argument)."""
    nodes = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            if int(stat_fields(entry)[1]) != parent:
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
    fields = stat_fields(pid)
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
    per_step = updates_per_env_step(inside, rows=len(inside))
    return float('nan') if per_step is None else per_step


def print_figures(shares: Dict[str, float], episodes: list, utd: float, factor: float,
                  rate_hz: float) -> None:
    print(f'\nshare of one core over {len(episodes)} training episodes:')
    for name, share in sorted(shares.items(), key=lambda item: -item[1]):
        print(f'  {name:<20} {share:6.1%}')
    robot = sum(v for k, v in shares.items() if k != 'learner')
    print(f'  {"all but the learner":<20} {robot:6.1%}')
    if 'sim' in shares:
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
    if 'learner' in shares:
        print(f'learner: {utd:.2f} critic updates per env step')


def control_rate_hz() -> float:
    from hilserl_bringup.runner import default_config_dir
    task = yaml.safe_load(Path(default_config_dir(), 'task.yaml').read_text())
    return float(task['/**']['ros__parameters']['control_rate_hz'])


class Window:
    """CPU seconds of each node and the wall times at the end of training episode `first` and
    at the end of episode `first + count`."""

    def __init__(self, layout: RunLayout, first: int, count: int):
        self.layout, self.first, self.count = layout, first, count
        self.start = self.end = None
        self.pids: Dict[str, int] = {}  # the nodes measured, found when the window opens

    def poll(self, nodes) -> bool:
        """Sample when due (`nodes`: a callable giving name -> pid); True once complete."""
        done = len(self.layout.episodes('train'))
        if self.start is None and done >= self.first:
            self.pids = nodes()
            self.start = (time.time(), time.monotonic(), sample(self.pids))
            print(f'measuring {", ".join(sorted(self.pids))} from episode {self.first}',
                  flush=True)
        if self.start is not None and done >= self.first + self.count:
            self.end = (time.time(), time.monotonic(), sample(self.pids))
        return self.end is not None

    def shares(self) -> Dict[str, float]:
        wall = self.end[1] - self.start[1]
        return {name: (self.end[2][name] - cpu) / wall
                for name, cpu in self.start[2].items() if name in self.end[2]}

    def episodes(self) -> list:
        return self.layout.episodes('train')[self.first:self.first + self.count]


def train(args) -> None:
    source = Path(args.source).resolve()
    output = Path(tempfile.mkdtemp(prefix='cpu_budget_'))
    prepared_output(source, output)
    total = args.episodes + 1
    command = [sys.executable, '-m', 'hilserl_experiments.main_job', '--output-dir', str(output),
               '--episodes', str(total), '--real-time-factor', str(args.real_time_factor),
               '--seed', str(args.seed), '--mine-after', '0', '--eval-every', str(10 * total),
               '--console-port', '0', '--skip', 'evaluate', 'report']
    for setting in args.set:
        command += ['--set', setting]
    print(' '.join(command), flush=True)
    window = Window(RunLayout(output), 1, args.episodes)
    job = subprocess.Popen(command)
    try:
        while not window.poll(lambda: node_processes(job.pid)):
            if job.poll() is not None:
                raise SystemExit(f'the main job ended (exit {job.returncode}) before {total} '
                                 f'training episodes; see {output}/logs')
            time.sleep(0.5)
    finally:
        if job.poll() is None:
            job.send_signal(signal.SIGINT)
            job.wait()
    report(window, args.real_time_factor, output)


def robot(args) -> None:
    from hilserl_bringup.runner import Graph
    from hilserl_testing.nodes import ProbeNode
    from so101_driver.calibration import save_calibration
    from so101_driver.emulator import EmulatedBus
    from so101_driver.emulator.arm import calibrated_servos, example_calibration

    source = Path(args.source).resolve()
    output = Path(tempfile.mkdtemp(prefix='cpu_budget_robot_'))
    shutil.copytree(source / 'reward_classifier', output / 'reward_classifier')
    calibration = example_calibration()
    buses, arguments = [], {'sim': 'false', 'output_dir': str(output), 'console': 'false'}
    for arm in ('follower', 'leader'):
        save_calibration(output / f'{arm}.json', calibration)
        buses.append(EmulatedBus(str(output / f'tty_{arm}'),
                                 calibrated_servos(calibration).values()).start())
        arguments.update({f'{arm}_port': str(output / f'tty_{arm}'),
                          f'{arm}_calibration': str(output / f'{arm}.json')})
    video = str(write_video(output / 'camera.avi'))
    arguments.update(camera=video, front_camera=video,
                     config_file=robot_side_file(source, output))
    graph = Graph('train', arguments, only=ROBOT_SIDE, quiet=True)
    window = Window(RunLayout(output), 1, args.episodes)
    graph.start()
    # What takes /transitions on the learner's host (the actor starts no training episode while
    # nothing does): a subscription of this process, so the robot side pays for sending them,
    # not for a learner.
    learner_host = ProbeNode('learner_stand_in')
    learner_host.take_transitions()
    learner_host.spin_in_background()
    try:
        while not window.poll(lambda: {n.spec.name: n.process.pid for n in graph.nodes}):
            dead = graph.failed_required()
            if dead is not None:
                raise SystemExit(f'{dead.spec.name} exited ({dead.process.returncode}); see '
                                 f'{output}/logs/{dead.spec.name}.log')
            time.sleep(0.5)
    finally:
        learner_host.close()
        graph.stop()
        for bus in buses:
            bus.stop()
    report(window, 1.0, output)


def robot_side_file(source: Path, output: Path) -> str:
    """A parameter file giving the classifier the encoder weights it was trained with (the
    main job's pretrained encoder, when it has one) and the actor the policy the main job's
    learner saved: an initial policy would cost less than a trained one."""
    from hilserl_experiments.pretrain_encoder import WEIGHTS_FILE
    weights = source / 'encoder' / WEIGHTS_FILE
    policy = source / 'learner' / 'policy.safetensors'
    if not policy.exists():
        raise SystemExit(f'{policy}: no policy in --from {source} (its training not begun?)')
    path = output / 'robot_side.yaml'
    # one mapping per node: a dict given twice would be dumped as a YAML alias, which rcl refuses
    path.write_text(yaml.safe_dump({
        '/**/reward_classifier': {'ros__parameters': {
            'encoder_weights': str(weights) if weights.exists() else ''}},
        '/**/actor': {'ros__parameters': {'policy_file': str(policy)}}}))
    return str(path)


# What runs next to the arm when the learner is on another machine.
ROBOT_SIDE = ('follower', 'leader', 'wrist_camera', 'front_camera', 'kinematics',
              'reward_classifier', 'actor')


def write_video(path: Path, seconds: float = 10.0, fps: float = 30.0) -> Path:
    """A 640x480 MJPG file of moving shapes: something for the cameras to decode and the
    classifier and the policy to look at."""
    import cv2
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), fps, (640, 480))
    for index in range(int(seconds * fps)):
        frame = np.full((480, 640, 3), 90, np.uint8)
        x = int(320 + 200 * np.sin(index / fps))
        cv2.rectangle(frame, (x - 40, 200), (x + 40, 280), (40, 60, 200), -1)
        cv2.circle(frame, (640 - x, 120), 30, (200, 200, 60), -1)
        writer.write(frame)
    writer.release()
    return path


def report(window: Window, factor: float, output: Path) -> None:
    shares, episodes = window.shares(), window.episodes()
    utd = utd_between(window.layout.learner_stats(), window.start[0], window.end[0])
    print_figures(shares, episodes, utd, factor, control_rate_hz())
    (output / 'cpu_budget.json').write_text(json.dumps(
        {'shares': shares, 'episodes': len(episodes), 'learner_utd': utd,
         'real_time_factor': factor}, indent=1))
    print(f'records in {output}')


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('graph', choices=('train', 'robot'))
    parser.add_argument('--from', dest='source', default='runs/sim',
                        help='a main job output directory with demos, encoder and classifier done')
    parser.add_argument('--episodes', type=int, default=20,
                        help='training episodes measured (after a first one not measured)')
    parser.add_argument('--real-time-factor', type=float, default=1.0, help='train only')
    parser.add_argument('--seed', type=int, default=0, help='train only')
    parser.add_argument('--set', action='append', default=[], metavar='NODE.PARAM=VALUE',
                        help='train only: a node parameter of the main job')
    args = parser.parse_args()
    try:
        parse_overrides(args.set)  # a malformed item stops here, not after the preparation
    except OverrideError as error:
        parser.error(str(error))
    train(args) if args.graph == 'train' else robot(args)


if __name__ == '__main__':
    main()
