"""The learner on another host: the train graph split over two network namespaces joined by a
veth pair (hilserl_testing.two_hosts; needs root), sim, operator, kinematics and actor on the
"robot host", the learner on the "GPU host", for a number of training episodes. Prints the
transitions per second the learner took in, the weight broadcast latency across the link, and
the bytes that crossed it per transition and per weight update.

    python benchmarks/two_hosts.py [--episodes 5] [--control-time-s 2.5]
                                   [--weights-period-s 1.0] [--small-policy]
                                   [--loss 0.02] [--max-message-size 1400]       (as root)

The learner has its configured network sizes (so the weights are the size a real run sends),
but a batch of 32 and one critic update per env step, so that it keeps up on a small CPU; the
simulation does not wait for it, and rewards come from the simulation (no classifier).

Where the figures come from:
- transitions/s: the learner's own statistics (learner_stats.jsonl: env_steps and time);
- broadcast latency: a watcher node on the robot host, beside the actor, subscribed to
  /policy_weights: its clock on arrival (after deserialisation, as the actor gets the message)
  minus the stamp the learner puts on each PolicyWeights when it publishes. Both hosts read one
  clock here; across two machines the clocks must be synchronised (chrony/PTP) for this figure.
  Version 1 (the initial network, published as the learner starts) waits for discovery and is
  shown apart;
- bytes: the veth's own counters (what each end sent). The GPU host also sends statistics,
  progress, diagnostics, discovery and the acknowledgements of the transitions, so bytes sent
  per weight update is an upper bound; the message's own size is printed beside it.
`--loss P` drops that share of the packets each host sends over the link, at random (iptables'
statistic match). Delay cannot be made here: `tc netem` is not in this kernel.
Each host has the Fast DDS profile of hilserl_common.dds_profile (4 MB socket receive
buffers); `--receive-buffer 0` leaves the kernel's default (about 208 kB), `--receive-buffer B`
sets B (at most net.core.rmem_max). `--max-message-size B` caps the UDP datagrams Fast DDS
sends (its default, 65500 bytes, is split by IP into about 45 packets, and losing one loses the
datagram).
"""
import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import yaml

from hilserl_common.dds_profile import RECEIVE_BUFFER_BYTES

ROBOT_NODES = ['sim', 'operator', 'kinematics', 'actor']
WEIGHTS_SUBSCRIBERS = 2     # the actor and this benchmark's watcher, both on the robot host
SMALL_POLICY = {'latent_dim': 16, 'hidden_dims': [32, 32], 'gripper_hidden_dims': [16]}


def watch_weights(path: str) -> None:
    """The watcher (run on the robot host): one JSON line per PolicyWeights received."""
    import rclpy
    from rclpy.time import Time

    from hilserl_common import qos
    from hilserl_interfaces.msg import PolicyWeights

    rclpy.init()
    node = rclpy.create_node('weights_watcher')
    out = open(path, 'a')

    def on_weights(msg):
        latency = node.get_clock().now() - Time.from_msg(msg.header.stamp)
        out.write(json.dumps({'version': msg.version, 'bytes': len(msg.data),
                              'latency_ms': latency.nanoseconds * 1e-6}) + '\n')
        out.flush()

    node.create_subscription(PolicyWeights, '/policy_weights', on_weights, qos.LATCHED)
    try:
        rclpy.spin(node)
    except KeyboardInterrupt:
        pass
    node.destroy_node()
    rclpy.try_shutdown()


def overrides(args) -> dict:
    learner = {'batch_size': 32, 'utd_ratio': 1.0, 'training_starts': 10, 'device': 'cpu',
               'weights_period_s': args.weights_period_s, 'stats_period_s': 0.5}
    if args.small_policy:
        learner.update(SMALL_POLICY)
    return {'/**': {'ros__parameters': {'control_time_s': args.control_time_s}},
            '/**/actor': {'ros__parameters': {'reward_source': 'sim'}},
            '/**/learner': {'ros__parameters': learner}}


def run(args, hosts, directory: Path, domain_id: int) -> dict:
    """Start the watcher, the learner and the robot side; wait for the episodes; stop."""
    from hilserl_bringup.runner import Graph
    from hilserl_common.run_layout import RunLayout

    (directory / 'overrides.yaml').write_text(yaml.safe_dump(overrides(args)))
    arguments = {'output_dir': str(directory), 'config_file': str(directory / 'overrides.yaml'),
                 'robot': f'r{uuid.uuid4().hex[:8]}', 'wait_for_learner': 'false',
                 'console': 'false'}
    robot = Graph('train', arguments, only=ROBOT_NODES, quiet=True,
                  prefix=hosts.robot.ros_command([], domain_id))
    learner = Graph('train', arguments, only=['learner'], quiet=True,
                    prefix=hosts.gpu.ros_command([], domain_id))
    weights_log = directory / 'weights_received.jsonl'
    watcher = subprocess.Popen(hosts.robot.ros_command(
        [sys.executable, __file__, '--watch', str(weights_log)], domain_id))
    layout = RunLayout(directory)
    started = time.monotonic()
    try:
        learner.start()
        robot.start()
        while len(layout.episodes('train')) < args.episodes:
            dead = robot.failed_required() or learner.failed_required()
            if dead is not None:
                raise SystemExit(f'{dead.spec.name} exited with code {dead.process.returncode}; '
                                 f'its log: {dead.log_path}')
            if time.monotonic() - started > args.timeout_s:
                print(f'stopped after {args.timeout_s:.0f} s with '
                      f'{len(layout.episodes("train"))} episodes', flush=True)
                break
            time.sleep(0.2)
    finally:
        robot.stop()
        learner.stop()
        watcher.send_signal(signal.SIGINT)
        watcher.wait(timeout=15)
    received = [json.loads(line) for line in weights_log.read_text().splitlines()] \
        if weights_log.exists() else []
    return {'episodes': layout.episodes('train'), 'stats': layout.learner_stats(),
            'weights': received, 'robot_sent': hosts.robot.link_bytes()[1],
            'gpu_sent': hosts.gpu.link_bytes()[1], 'robot_udp': hosts.robot.udp_counters(),
            'gpu_udp': hosts.gpu.udp_counters()}


def report(figures: dict) -> None:
    episodes, stats, weights = figures['episodes'], figures['stats'], figures['weights']
    print(f'{len(episodes)} training episodes, actor policy versions '
          f'{[e["policy_version"] for e in episodes]}')
    taking = [s for s in stats if s['env_steps'] > 0]
    if len(taking) >= 2:
        first, last = taking[0], taking[-1]
        rate = (last['env_steps'] - first['env_steps']) / (last['time'] - first['time'])
        print(f'learner: {last["env_steps"]} transitions, {rate:.1f} transitions/s while '
              f'episodes ran (resets included), {last["transitions_dropped"]} dropped, '
              f'{last["optimization_step"]} updates, weights version {last["weights_version"]}')
    else:
        print('learner: too few statistics rows with transitions for a rate')
    first_receipts = {}
    for w in weights:
        first_receipts.setdefault(w['version'], w)
    later = [w for v, w in sorted(first_receipts.items()) if v > 1]
    if weights and weights[0]['version'] == 1:
        print(f'weights: version 1 (initial network) arrived {weights[0]["latency_ms"]:.0f} ms '
              f'after it was published (discovery included)')
    if later:
        latencies = np.array([w['latency_ms'] for w in later])
        print(f'weights: broadcast latency across the link (learner publish -> received on the '
              f'robot host) p50 {np.percentile(latencies, 50):.1f} ms, p95 '
              f'{np.percentile(latencies, 95):.1f} ms over {len(later)} versions; message '
              f'{later[-1]["bytes"] / 1e6:.3f} MB of weights')
    else:
        print('weights: no version after the first reached the robot host: no latency')
    env_steps = stats[-1]['env_steps'] if stats else 0
    versions = stats[-1]['weights_version'] if stats else 0
    print(f'link: robot host sent {figures["robot_sent"] / 1e6:.2f} MB'
          + (f' ({figures["robot_sent"] / env_steps / 1e3:.1f} kB per transition)'
             if env_steps else ''))
    print(f'link: GPU host sent {figures["gpu_sent"] / 1e6:.2f} MB'
          + (f' ({figures["gpu_sent"] / versions / 1e6:.3f} MB per weight update, an upper '
             f'bound: statistics, discovery and acknowledgements included)' if versions else ''))
    # Each reliable subscriber on the robot host gets its own copy (the actor and the watcher),
    # and each fragment its buffer dropped is sent again.
    copies = f'{WEIGHTS_SUBSCRIBERS} subscribers on the robot host (actor, watcher)'
    if later:
        copies += (f': {WEIGHTS_SUBSCRIBERS * later[-1]["bytes"] / 1e6:.3f} MB per update '
                   f'without resending')
    print(f'link: weights go to {copies}; UDP datagrams dropped for full receive buffers: '
          f'robot host '
          f'{figures["robot_udp"]["RcvbufErrors"]} ({figures["robot_udp"]["InDatagrams"]} '
          f'delivered), GPU host {figures["gpu_udp"]["RcvbufErrors"]} '
          f'({figures["gpu_udp"]["InDatagrams"]} delivered)')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--episodes', type=int, default=5)
    parser.add_argument('--control-time-s', type=float, default=2.5)
    parser.add_argument('--weights-period-s', type=float, default=1.0)
    parser.add_argument('--small-policy', action='store_true',
                        help='the tests\' small networks instead of the configured sizes')
    parser.add_argument('--timeout-s', type=float, default=300.0)
    parser.add_argument('--loss', type=float, default=0.0,
                        help='share of the packets each host sends over the link that are '
                             'dropped at random (0-1)')
    parser.add_argument('--max-message-size', type=int, default=None,
                        help='largest UDP datagram Fast DDS sends, bytes (default: its own '
                             '65500)')
    parser.add_argument('--receive-buffer', type=int, default=RECEIVE_BUFFER_BYTES,
                        help='receive buffer of Fast DDS\'s sockets, bytes (default: the '
                             'workspace profile\'s; 0: the kernel\'s default; at most '
                             'net.core.rmem_max)')
    parser.add_argument('--watch', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.watch:
        watch_weights(args.watch)
        return
    from hilserl_testing.nodes import load_average, private_ros_domain
    from hilserl_testing.two_hosts import NoLoss, two_hosts, why_no_namespaces

    why = why_no_namespaces()
    if why:
        sys.exit(f'two hosts cannot be made here: {why}')
    domain_id = private_ros_domain()
    print(f'load {load_average()}', flush=True)
    if not 0.0 <= args.loss < 1.0:
        sys.exit(f'--loss {args.loss}: a share of packets, from 0 to below 1')
    if args.receive_buffer < 0 or (args.max_message_size or 0) < 0:
        sys.exit('--receive-buffer and --max-message-size are sizes in bytes, 0 or more')
    with two_hosts(args.receive_buffer or None, args.max_message_size) as hosts, \
            tempfile.TemporaryDirectory(prefix='two_hosts_') as directory:
        print(f'robot host {hosts.robot.namespace} ({hosts.robot.address}), GPU host '
              f'{hosts.gpu.namespace} ({hosts.gpu.address}), ROS domain {domain_id}', flush=True)
        buffers = (f'{args.receive_buffer} bytes' if args.receive_buffer
                   else 'the kernel\'s default size')
        print(f'link: {args.loss:.1%} of the packets dropped each way; Fast DDS datagrams of at '
              f'most {args.max_message_size or 65500} bytes, socket receive buffers of '
              f'{buffers}', flush=True)
        if args.loss:
            try:
                for host in (hosts.robot, hosts.gpu):
                    host.drop_at_random(args.loss)
            except NoLoss as error:
                sys.exit(str(error))
        report(run(args, hosts, Path(directory), domain_id))


if __name__ == '__main__':
    main()
