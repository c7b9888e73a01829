"""Follower driver under bus faults: joint_states publish ratio, reconnect time, CPU use.

Starts the `follower` executable against the emulated STS3215 bus (a pty, real scservo_sdk)
with lost and corrupted replies, counts joint_states received over real rclpy topics, then
unplugs the device repeatedly and times how long publishing takes to resume after it returns.

    source scripts/env.sh
    python benchmarks/follower_bus_faults.py --seconds 30 --drop 0.05 --corrupt 0.02 --unplugs 5
"""
import argparse
import os
import random
import signal
import subprocess
import tempfile
import threading
import time

import rclpy
from ament_index_python.packages import get_package_prefix
from rclpy.executors import SingleThreadedExecutor
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import JointState

from hilserl_common import qos
from so101_driver.calibration import save_calibration
from so101_driver.emulator import EmulatedBus, Faults
from so101_driver.emulator.arm import calibrated_servos, example_calibration


def cpu_seconds(pid: int) -> float:
    with open(f'/proc/{pid}/stat') as stat:
        fields = stat.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--seconds', type=float, default=30.0)
    parser.add_argument('--rate', type=float, default=30.0)
    parser.add_argument('--drop', type=float, default=0.05)
    parser.add_argument('--corrupt', type=float, default=0.02)
    parser.add_argument('--unplugs', type=int, default=5)
    parser.add_argument('--unplug-s', type=float, default=1.0)
    args = parser.parse_args()
    # A domain of its own: other graphs on this machine publish joint_states and /diagnostics too.
    os.environ['ROS_DOMAIN_ID'] = str(random.SystemRandom().randint(101, 200))
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'

    work = tempfile.mkdtemp(prefix='follower_bench_')
    calibration = example_calibration()
    save_calibration(f'{work}/follower.json', calibration)
    bus = EmulatedBus(f'{work}/ttyFOLLOWER', calibrated_servos(calibration).values(),
                      Faults(args.drop, args.corrupt), seed=1).start()
    received, reports = [], []
    rclpy.init()
    node = rclpy.create_node('follower_benchmark')
    node.create_subscription(JointState, 'joint_states',
                             lambda _: received.append(time.monotonic()), qos.SENSOR_RELIABLE)
    node.create_subscription(DiagnosticArray, '/diagnostics',
                             lambda m: reports.extend(
                                 {v.key: v.value for v in s.values} for s in m.status
                                 if s.name == 'follower: feetech bus'), qos.COMMANDS)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    executable = os.path.join(get_package_prefix('so101_driver'), 'lib', 'so101_driver',
                              'follower')
    follower = subprocess.Popen([executable, '--ros-args', '-p', f'port:={bus.link_path}',
                                 '-p', f'calibration_file:={work}/follower.json',
                                 '-p', f'rate_hz:={args.rate}'],
                                stdout=open(f'{work}/follower.log', 'w'), stderr=subprocess.STDOUT)
    try:
        while not received:
            time.sleep(0.05)
        time.sleep(1.0)
        start, cpu_start, first = time.monotonic(), cpu_seconds(follower.pid), reports[-1]
        time.sleep(args.seconds)
        end, cpu_end, last = time.monotonic(), cpu_seconds(follower.pid), reports[-1]
        ticks = int(last['ticks']) - int(first['ticks'])
        published = int(last['joint_states_published']) - int(first['joint_states_published'])
        in_window = [t for t in received if start <= t < end]
        per_second = [sum(1 for t in in_window if start + k <= t < start + k + 1)
                      for k in range(int(args.seconds))]
        print(f'faults: {args.drop:.0%} replies lost, {args.corrupt:.0%} corrupted '
              f'(emulator: {bus.counters.dropped} lost, {bus.counters.corrupted} corrupted of '
              f'{bus.counters.replies + bus.counters.dropped} replies)')
        print(f'ticks that published joint_states: {published / ticks:.4f} ({published} of '
              f'{ticks} node ticks, from its /diagnostics)')
        print(f'joint_states received / nominal: {len(in_window) / (args.seconds * args.rate):.4f} '
              f'({len(in_window)} of {args.seconds * args.rate:.0f} ticks in {args.seconds:g} s); '
              f'worst second {min(per_second)}/{args.rate:g}')
        print(f'follower CPU: {(cpu_end - cpu_start) / (end - start):.1%} of one core')
        resumes = []
        for _ in range(args.unplugs):
            bus.unplug()
            time.sleep(args.unplug_s)
            bus.plug(power_cycled=True)
            back = time.monotonic()
            while not [t for t in received if t > back] and time.monotonic() < back + 10:
                time.sleep(0.005)
            after = [t for t in received if t > back]
            resumes.append(after[0] - back if after else float('inf'))
            time.sleep(1.0)
        print(f'publishing resumed after a {args.unplug_s:g} s unplug (with the faults on) in '
              f'{", ".join(f"{r:.3f}" for r in resumes)} s (max {max(resumes):.3f} s)')
    finally:
        follower.send_signal(signal.SIGINT)
        follower.wait(timeout=15)
        executor.shutdown()
        spinner.join(timeout=5)
        node.destroy_node()
        rclpy.try_shutdown()
        bus.stop()
    print(open(f'{work}/follower.log').read().strip().splitlines()[-1])


if __name__ == '__main__':
    main()
