"""Follower driver under each fault a USB servo bus shows: data delivered, wrong samples,
reconnection, servo error bits, and torque off after Ctrl-C/SIGTERM at random moments.

For every fault kind the emulated STS3215 bus offers (a pty, the real scservo_sdk on the driver
side), the `follower` executable is started on it and measured over real rclpy topics:
- delivered: share of the node's ticks that published joint_states (from its /diagnostics), and
  the longest gap between two joint_states received;
- wrong: joint_states samples that differ from the emulator's true servo positions (the arm
  holds still at a distinct pose per servo, so any reply taken for the wrong request or servo
  shows), and goals written that differ from where the servo is;
- reconnect: time from the device coming back after a 1 s unplug to the next joint_states;
- error bits: the per-servo statuses on /diagnostics above OK;
- torque off: trials that send SIGINT or SIGTERM (alternating) at a random moment after torque
  came on, with the fault active; torque must be off in every servo afterwards, and a process
  that could not confirm it must exit non-zero.

    source scripts/env.sh
    nice -n 10 python benchmarks/follower_bus_faults.py --trials 50
    # the driver of another checkout, against this emulator:
    python benchmarks/follower_bus_faults.py --driver-path /tmp/old/src/so101_driver:...
"""
import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import rclpy
from ament_index_python.packages import get_package_prefix
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import SingleThreadedExecutor
from sensor_msgs.msg import JointState

from hilserl_common import qos
from hilserl_testing.nodes import private_ros_domain, stop_process
from so101_description.model import JOINT_NAMES, joint_limits
from so101_driver.calibration import JointMap, save_calibration
from so101_driver.emulator import EmulatedBus, Faults
from so101_driver.emulator.arm import calibrated_servos, example_calibration
from so101_driver.feetech import registers as reg

OVERLOAD, OVERHEAT = 0x20, 0x04
FAULT_KINDS = {  # name: (emulator faults, error bits per servo id)
    'none': ({}, {}),
    'lost replies 5%': ({'drop_reply': 0.05}, {}),
    'corrupt replies 5%': ({'corrupt_reply': 0.05}, {}),
    'lost requests 5%': ({'drop_request': 0.05}, {}),
    'corrupt requests 5%': ({'corrupt_request': 0.05}, {}),
    # Past the driver's 10 ms timeout, into the next request (of the same cycle, or the next).
    'late replies 5% (12-50 ms)': ({'delay_reply': 0.05, 'delay_s': 0.012,
                                    'delay_jitter_s': 0.038}, {}),
    'duplicated replies 5%': ({'duplicate_reply': 0.05}, {}),
    'foreign-id replies 2%': ({'foreign_id': 0.02}, {}),
    'silence bursts 300 ms (~1 per 3 s)': ({'silences_per_s': 0.33, 'silence_s': 0.3}, {}),
    'error bits': ({}, {6: OVERLOAD, 3: OVERHEAT}),
    'all at once': ({'drop_reply': 0.03, 'corrupt_reply': 0.02, 'drop_request': 0.02,
                     'corrupt_request': 0.02, 'delay_reply': 0.03, 'delay_s': 0.012,
                     'delay_jitter_s': 0.038,
                     'duplicate_reply': 0.02, 'foreign_id': 0.02, 'silences_per_s': 0.1},
                    {6: OVERLOAD}),
}
BUS_STATUS = 'follower: feetech bus'


class Probe:
    """joint_states and /diagnostics of the follower, each sample checked against the emulator."""

    def __init__(self, joint_map: JointMap):
        self.joint_map = joint_map
        # Half a tick per joint: a reading of the servo itself converts to its true position.
        self.tolerance = 0.5 * np.abs(joint_map.to_radians(np.ones(6)) - joint_map.to_radians(0))
        self.bus = None
        self.received, self.wrong, self.reports, self.alarms = [], 0, [], set()
        rclpy.init()
        self.node = rclpy.create_node('follower_benchmark')
        self.node.create_subscription(JointState, 'joint_states', self._on_state,
                                      qos.SENSOR_RELIABLE)
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics,
                                      qos.COMMANDS)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def reset(self, bus):
        self.bus, self.received, self.wrong, self.reports, self.alarms = bus, [], 0, [], set()

    def _on_state(self, msg):
        truth = self.joint_map.to_radians([self.bus.servos[i].value(reg.PRESENT_POSITION)
                                           for i in self.joint_map.servo_ids])
        self.received.append(time.monotonic())
        if np.any(np.abs(np.asarray(msg.position) - truth) > self.tolerance):
            self.wrong += 1

    def _on_diagnostics(self, msg):
        for status in msg.status:
            if status.name == BUS_STATUS:
                self.reports.append({v.key: v.value for v in status.values})
            elif status.name.startswith('follower: servo') and status.level != b'\x00':
                self.alarms.add(f'{status.name.removeprefix("follower: ")}: {status.message}')

    def close(self):
        self.executor.shutdown()
        self.thread.join(timeout=5)
        self.node.destroy_node()
        rclpy.try_shutdown()


class Bench:
    def __init__(self, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix='follower_bench_')
        self.calibration = example_calibration()
        save_calibration(f'{self.work}/follower.json', self.calibration)
        self.joint_map = JointMap(self.calibration, JOINT_NAMES, *joint_limits())
        self.probe = Probe(self.joint_map)
        self.random = random.Random(args.seed)
        self.env = dict(os.environ)
        if args.driver_path:
            self.env['PYTHONPATH'] = args.driver_path + ':' + self.env.get('PYTHONPATH', '')

    def start_follower(self, bus):
        executable = os.path.join(get_package_prefix('so101_driver'), 'lib', 'so101_driver',
                                  'follower')
        log = open(f'{self.work}/follower.log', 'w')
        return subprocess.Popen([executable, '--ros-args', '-p', f'port:={bus.link_path}',
                                 '-p', f'calibration_file:={self.work}/follower.json',
                                 '-p', f'rate_hz:={self.args.rate}'],
                                env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return open(f'{self.work}/follower.log').read()

    def run_kind(self, name, faults, alarms):
        servos = calibrated_servos(self.calibration)
        for servo in servos.values():
            servo.alarm = alarms.get(servo.servo_id, 0)
        bus = EmulatedBus(f'{self.work}/ttyFOLLOWER', servos.values(), Faults(**faults),
                          seed=self.args.seed).start()
        self.probe.reset(bus)
        pose = {i: s.value(reg.PRESENT_POSITION) for i, s in bus.servos.items()}
        try:
            row = self.measure_data(bus)
            row['torque'] = self.torque_trials(bus)
        finally:
            bus.stop()
        row['emulator'] = bus.counters
        row['wrong_goals'] = wrong_goals(bus, pose)
        return row

    def measure_data(self, bus):
        follower, probe = self.start_follower(bus), self.probe
        row = {'wrong': 0, 'wrong_goals': 0, 'died': '', 'alarms': set()}
        try:
            if not wait_for(lambda: probe.reports and probe.received or follower.poll() is not None,
                            60):
                raise RuntimeError('the follower never published:\n' + self.log())
            time.sleep(1.0)
            start, first = time.monotonic(), probe.reports[-1]
            silences = bus.counters.silences
            time.sleep(self.args.seconds)
            end, last = time.monotonic(), probe.reports[-1]
            ticks = int(last['ticks']) - int(first['ticks'])
            published = (int(last['joint_states_published'])
                         - int(first['joint_states_published']))
            window = [start] + [t for t in probe.received if start <= t < end] + [end]
            row['delivered'] = published / max(ticks, 1)
            # The share a driver could deliver at best: the bus answers nothing while silent.
            silent_s = (bus.counters.silences - silences) * bus.faults.silence_s
            row['silent'] = silent_s / (end - start)
            row['max_gap_ms'] = 1000 * max(np.diff(window))
            row['reconnect_s'] = max(self.reconnect(bus) for _ in range(self.args.unplugs))
        except (IndexError, KeyError):
            row.update(delivered=float('nan'), max_gap_ms=float('nan'), reconnect_s=float('nan'))
        finally:
            if follower.poll() is not None:
                row['died'] = f'exit {follower.returncode}: ' + self.log().strip()[-300:]
            stop_process(follower, signal.SIGINT, timeout=30)
        row['wrong'] = probe.wrong
        row['alarms'] = set(probe.alarms)
        return row

    def reconnect(self, bus) -> float:
        bus.unplug()
        time.sleep(1.0)
        bus.plug(power_cycled=True)
        back = time.monotonic()
        wait_for(lambda: self.probe.received and self.probe.received[-1] > back, 10)
        resumed = [t for t in self.probe.received if t > back]
        time.sleep(1.0)
        return resumed[0] - back if resumed else float('inf')

    def torque_trials(self, bus):
        result = {'off': 0, 'on_exit_0': 0, 'on_exit_non_0': 0, 'unconfirmed_exit_non_0': 0,
                  'no_torque_on': 0, 'trials': self.args.trials}
        def torque():
            return [s.value(reg.TORQUE_ENABLE) for s in bus.servos.values()]

        for trial in range(self.args.trials):
            for servo in bus.servos.values():  # whatever the last trial left: this one's torque
                servo.write(reg.TORQUE_ENABLE.address, b'\0')
            follower = self.start_follower(bus)
            if not wait_for(lambda f=follower: all(torque()) or f.poll() is not None, 30) \
                    or follower.poll() is not None:
                result['no_torque_on'] += 1
                stop_process(follower, signal.SIGINT, timeout=30)
                continue
            time.sleep(self.random.uniform(0.0, 1.0))
            signum = (signal.SIGINT, signal.SIGTERM)[trial % 2]
            code = stop_process(follower, signum, timeout=30)
            off = not any(torque())
            result['off'] += off
            if not off:
                result['on_exit_0' if code == 0 else 'on_exit_non_0'] += 1
                print(f'  trial {trial}: torque left on, exit {code}:\n' + self.log()[-800:])
            elif code != 0:
                result['unconfirmed_exit_non_0'] += 1
        return result


def wait_for(condition, timeout) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True




def wrong_goals(bus, pose) -> int:
    """Goal writes away from the pose the arm rests in (nothing is commanded: goals only hold)."""
    return sum(1 for w in bus.writes(reg.GOAL_POSITION.address)
               if abs(reg.decode(reg.GOAL_POSITION, w.data) - pose[w.servo_id]) > 1)


def print_table(rows):
    print('| fault kind | delivered (bus silent) | max gap ms | wrong samples | wrong goals | '
          'reconnect s | torque off after Ctrl-C/SIGTERM | torque ON at exit 0 | error bits on '
          '/diagnostics |\n' + '|---' * 9 + '|')
    for name, row in rows.items():
        t = row['torque']
        torque = f"{t['off']}/{t['trials'] - t['no_torque_on']}"
        if t['no_torque_on']:
            torque += f" ({t['no_torque_on']} never on)"
        if t['unconfirmed_exit_non_0'] or t['on_exit_non_0']:
            torque += f" (exit≠0: {t['unconfirmed_exit_non_0'] + t['on_exit_non_0']})"
        alarms = '; '.join(sorted(row['alarms'])) or '–'
        died = ' **node died**' if row['died'] else ''
        silent = f" ({row['silent']:.0%})" if row.get('silent') else ''
        print(f"| {name} | {row['delivered']:.3f}{silent}{died} | {row['max_gap_ms']:.0f} "
              f"| {row['wrong']} | {row['wrong_goals']} | {row['reconnect_s']:.2f} | {torque} "
              f"| {t['on_exit_0']} | {alarms} |")
    for name, row in rows.items():
        if row['died']:
            print(f'\n{name}: the follower died during the data phase: {row["died"]}')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seconds', type=float, default=20.0, help='data phase per fault kind')
    parser.add_argument('--rate', type=float, default=30.0)
    parser.add_argument('--unplugs', type=int, default=3, help='1 s unplugs per fault kind')
    parser.add_argument('--trials', type=int, default=50, help='Ctrl-C/SIGTERM trials per kind')
    parser.add_argument('--kinds', default='', help='comma-separated subset of: '
                        + ', '.join(FAULT_KINDS))
    parser.add_argument('--driver-path', default='', help='PYTHONPATH entries put first for the '
                        'follower process (to measure another checkout of the driver)')
    parser.add_argument('--seed', type=int, default=1)
    args = parser.parse_args()
    kinds = [k.strip() for k in args.kinds.split(',') if k.strip()] or list(FAULT_KINDS)
    unknown = [k for k in kinds if k not in FAULT_KINDS]
    if unknown:
        parser.error(f'unknown fault kind(s) {unknown}; known: {", ".join(FAULT_KINDS)}')
    # A domain of its own: other graphs on this machine publish joint_states and /diagnostics too.
    private_ros_domain()
    print('command:', ' '.join(sys.argv), flush=True)
    bench = Bench(args)
    rows = {}
    try:
        for name in kinds:
            started = time.monotonic()
            rows[name] = bench.run_kind(name, *FAULT_KINDS[name])
            print(f'[{name}] done in {time.monotonic() - started:.0f} s: {rows[name]}',
                  flush=True)
    finally:
        bench.probe.close()
        print_table(rows)


if __name__ == '__main__':
    main()
