"""Weight broadcast latency, learner publish -> actor-side policy loaded (two processes over
real rclpy, PolicyWeights on the latched topic), and the actor-side policy's inference time
on one observation (CPU).

    python benchmarks/learner_broadcast.py [--broadcasts 10] [--threads 2]

The learner side serialises the default-size policy (safetensors + sha256), stamps the message
and publishes it; the actor side (a subprocess) checks the checksum, loads the weights into its
Policy and reports now - stamp.
"""
import argparse
import array
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import torch


def learner_side(args) -> None:
    import rclpy

    from hilserl_common import qos
    from hilserl_interfaces.msg import PolicyWeights
    from hilserl_learner.config import config_from
    from hilserl_learner.policy.weights import FORMAT, serialize_policy
    from hilserl_learner.sac.agent import SACAgent

    agent = SACAgent(config_from({'device': 'cpu'}))
    rclpy.init()
    node = rclpy.create_node('broadcast_benchmark_learner')
    publisher = node.create_publisher(PolicyWeights, '/policy_weights', qos.LATCHED)
    actor = subprocess.Popen([sys.executable, __file__, '--actor', '--threads',
                              str(args.threads), '--broadcasts', str(args.broadcasts)])
    deadline = time.monotonic() + 60
    while publisher.get_subscription_count() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    snapshot_ms = []
    for version in range(1, args.broadcasts + 1):
        start = time.perf_counter()
        data, digest = serialize_policy(agent.policy_state_dict(), agent.config,
                                        agent.encoder.backbone.identity, version, version)
        msg = PolicyWeights(version=version, format=FORMAT, sha256=digest,
                            optimization_step=version)
        msg.data = array.array('B', data)
        snapshot_ms.append((time.perf_counter() - start) * 1e3)
        msg.header.stamp = node.get_clock().now().to_msg()
        publisher.publish(msg)
        time.sleep(1.0)
    print(f'learner: policy weights {len(data) / 1e6:.2f} MB; snapshot (serialise + sha256 + '
          f'message) median {statistics.median(snapshot_ms):.1f} ms', flush=True)
    actor.wait(timeout=120)
    node.destroy_node()
    rclpy.shutdown()


def actor_side(args) -> None:
    import rclpy
    from rclpy.time import Time

    from hilserl_common import qos
    from hilserl_interfaces.msg import PolicyWeights
    from hilserl_learner.policy.policy import Policy

    rclpy.init()
    node = rclpy.create_node('broadcast_benchmark_actor')
    latencies, holder = [], {}

    def on_weights(msg):
        if 'policy' not in holder:
            holder['policy'] = Policy.from_weights(bytes(msg.data), msg.sha256)
        else:
            holder['policy'].load_weights(bytes(msg.data), msg.sha256)
        latency = node.get_clock().now() - Time.from_msg(msg.header.stamp)
        latencies.append(latency.nanoseconds * 1e-6)

    node.create_subscription(PolicyWeights, '/policy_weights', on_weights, qos.LATCHED)
    deadline = time.monotonic() + 30 + 2 * args.broadcasts
    while len(latencies) < args.broadcasts and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.1)
    # The first load also builds the networks and the backbone; the rest are what a running
    # actor sees.
    steady = latencies[1:] or latencies
    print(f'actor: publish -> loaded latency: first {latencies[0]:.1f} ms (builds the policy), '
          f'then median {statistics.median(steady):.1f} ms, max {max(steady):.1f} ms '
          f'({len(latencies)} broadcasts)', flush=True)
    policy = holder['policy']
    rng = np.random.default_rng(0)
    state = rng.normal(size=18).astype(np.float32)
    image = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    torch.set_num_threads(args.threads)
    for deterministic in (False, True):
        for _ in range(5):
            policy.act(state, image, deterministic)
        times, cpu_times = [], []
        for _ in range(50):
            start, cpu_start = time.perf_counter(), time.process_time()
            policy.act(state, image, deterministic)
            times.append((time.perf_counter() - start) * 1e3)
            cpu_times.append((time.process_time() - cpu_start) * 1e3)
        # CPU time is what one act costs; wall time also counts waiting for a busy machine.
        print(f'actor: policy.act ({"deterministic" if deterministic else "stochastic"}, '
              f'{args.threads} threads) wall median {statistics.median(times):.1f} ms, p95 '
              f'{np.percentile(times, 95):.1f} ms; CPU time median '
              f'{statistics.median(cpu_times):.1f} ms', flush=True)
    node.destroy_node()
    rclpy.shutdown()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--broadcasts', type=int, default=10)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--actor', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    (actor_side if args.actor else learner_side)(args)


if __name__ == '__main__':
    main()
