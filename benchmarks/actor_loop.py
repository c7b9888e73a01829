"""The actor's timing on this machine: control-loop period jitter on the simulated graph, and
policy inference latency (Policy.act on CPU). Targets: p99 jitter < 10 ms at 10 Hz, inference
< 15 ms.

    source scripts/env.sh && python benchmarks/actor_loop.py [--seconds 60] [--calls 300]
        [--skip-graph] [--skip-inference] [--timers] [--nice -10]

Jitter: sim, kinematics, simulated operator and actor run as real processes (the runner, reward
from the simulation's success, default episode length), the actor acting with a default-size
policy broadcast on /policy_weights (so each step runs the network). A probe records every
/transitions message; the header stamp is the actor's clock when it acted, so the difference
between the stamps of consecutive steps of an episode is the loop's own period, free of delivery
delays.
Jitter is |period - nominal|; a stamp is taken after the step's computation (policy, IK), so
it includes how long that took. The actor's own figure, loop_jitter_p99_ms of episodes.jsonl
(per episode, from the times the loop woke up), is printed too.

Inference: the default-size policy (frozen ResNet-10, 128x128 image, 18-dim state), stochastic
as in training, with 1 torch thread and with torch's default.

--timers compares the two ways a thread can keep 10 Hz next to a spinning rclpy executor
(rclpy Rate, whose timer fires in the executor and wakes the thread; a monotonic deadline
sleep), without the rest of the actor, to tell the timing method's share from the load's.
"""
import argparse
import os
import tempfile
import threading
import time
import uuid

import numpy as np

from hilserl_testing.nodes import load_average, private_ros_domain

NOMINAL_PERIOD_S = 0.1


def percentiles_ms(values_s):
    values = np.asarray(values_s) * 1e3
    return f'p50 {np.percentile(values, 50):.1f} ms, p99 {np.percentile(values, 99):.1f} ms, ' \
           f'max {values.max():.1f} ms (n={len(values)})'


# --- inference ---------------------------------------------------------------------------

def inference(calls: int) -> None:
    import torch

    from hilserl_learner.config import config_from
    from hilserl_learner.policy.policy import Policy

    default_threads = torch.get_num_threads()
    policy = Policy(config_from({'device': 'cpu'}))
    rng = np.random.default_rng(0)
    state = rng.normal(size=18).astype(np.float32)
    image = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    for threads in (1, default_threads):
        torch.set_num_threads(threads)
        for _ in range(20):
            policy.act(state, image)
        wall, cpu = [], []
        for _ in range(calls):
            start, cpu_start = time.perf_counter(), time.process_time()
            policy.act(state, image)
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - cpu_start)
        print(f'inference, {threads} torch thread(s): wall {percentiles_ms(wall)}; '
              f'CPU time p50 {np.median(cpu) * 1e3:.1f} ms', flush=True)


# --- loop jitter on the graph ------------------------------------------------------------

def renice(pid: int, nice: int) -> None:
    """Every thread of a process (Linux priorities are per thread)."""
    for task in os.listdir(f'/proc/{pid}/task'):
        try:
            os.setpriority(os.PRIO_PROCESS, int(task), nice)
        except (ProcessLookupError, PermissionError) as error:
            print(f'renice {pid}/{task}: {error}', flush=True)


def default_policy_weights():
    import array

    from hilserl_interfaces.msg import PolicyWeights
    from hilserl_learner.config import config_from
    from hilserl_learner.policy.weights import FORMAT, serialize_policy
    from hilserl_learner.sac.agent import SACAgent

    agent = SACAgent(config_from({'device': 'cpu'}))
    data, digest = serialize_policy(agent.policy_state_dict(), agent.config,
                                    agent.encoder.backbone.identity, 1, 0)
    msg = PolicyWeights(version=1, format=FORMAT, sha256=digest, optimization_step=0)
    msg.data = array.array('B', data)
    return msg


def graph_jitter(seconds: float, nice: int) -> None:
    import rclpy
    import yaml
    from rclpy.executors import SingleThreadedExecutor

    from hilserl_bringup.runner import Graph
    from hilserl_common import qos
    from hilserl_common.run_layout import RunLayout
    from hilserl_interfaces.msg import PolicyWeights, Transition

    directory = tempfile.mkdtemp(prefix='actor_loop_')
    overrides = os.path.join(directory, 'overrides.yaml')
    with open(overrides, 'w') as stream:
        yaml.safe_dump({'/**/actor': {'ros__parameters': {'reward_source': 'sim'}}}, stream)
    robot = f'bench{uuid.uuid4().hex[:6]}'
    graph = Graph('train', {'output_dir': directory, 'config_file': overrides, 'robot': robot},
                  only=['sim', 'kinematics', 'operator', 'actor'], quiet=True)
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node('actor_loop_benchmark', context=context)
    stamps = []   # (episode, step, actor stamp s, policy version)
    lock = threading.Lock()

    def on_transition(msg):
        if msg.actor_id == robot:
            with lock:
                stamps.append((msg.episode_id, msg.step_id,
                               msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9,
                               msg.policy_version))

    node.create_subscription(Transition, '/transitions', on_transition, qos.TRANSITIONS)
    # The learner's default-size policy, so that every step runs the network.
    weights_pub = node.create_publisher(PolicyWeights, '/policy_weights', qos.LATCHED)
    weights_pub.publish(default_policy_weights())
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    graph.start()
    print(f'graph started ({directory}); load average {load_average()}', flush=True)
    if nice:
        time.sleep(5.0)   # the nodes' threads exist once they are up
        for running in graph.nodes:
            renice(running.process.pid, nice)
        print(f'graph nodes reniced to {nice}', flush=True)
    try:
        deadline = time.monotonic() + 120
        while not any(v == 1 for *_, v in stamps) and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.1)
        if not any(v == 1 for *_, v in stamps):
            raise SystemExit('no transitions of the broadcast policy within 120 s; see '
                             + directory + '/logs')
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            executor.spin_once(timeout_sec=0.1)
        print(f'load average at the end {load_average()}', flush=True)
    finally:
        executor.shutdown()
        node.destroy_node()
        context.try_shutdown()
        graph.stop()
    periods = []
    # Steps of the trained-size network only (version 1), not of the initial random policy.
    for (e0, s0, t0, v0), (e1, s1, t1, v1) in zip(stamps, stamps[1:]):
        if e0 == e1 and s1 == s0 + 1 and v0 == v1 == 1:
            periods.append(t1 - t0)
    periods = np.array(periods)
    jitter = np.abs(periods - NOMINAL_PERIOD_S)
    print(f'loop period from transition stamps (after each step\'s computation): '
          f'{percentiles_ms(periods)}; {np.sum(periods > 1.5 * NOMINAL_PERIOD_S)} periods over '
          f'150 ms', flush=True)
    print(f'loop jitter |period - 100 ms|: {percentiles_ms(jitter)}', flush=True)
    episodes = [r for r in RunLayout(directory).episodes('train')
                if r['policy_version'] == 1]
    if episodes:
        reported = [r['loop_jitter_p99_ms'] for r in episodes]
        print(f'episodes.jsonl (wake-up times): {len(episodes)} episodes, '
              f'loop_jitter_p99_ms median {np.median(reported):.1f}, max {max(reported):.1f}; '
              f'policy_hz median '
              f'{np.median([r["policy_hz"] for r in episodes]):.2f}', flush=True)


# --- timing methods, without the actor ---------------------------------------------------

def timers(seconds: float) -> None:
    import rclpy
    from rclpy.executors import MultiThreadedExecutor

    rclpy.init()
    node = rclpy.create_node('timer_benchmark')
    executor = MultiThreadedExecutor(num_threads=4)
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()

    def measure(wait):
        times = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            wait()
            times.append(time.monotonic())
        return np.abs(np.diff(times) - NOMINAL_PERIOD_S)

    rate = node.create_rate(1.0 / NOMINAL_PERIOD_S)
    print(f'rclpy Rate (executor timer wakes the thread): jitter '
          f'{percentiles_ms(measure(rate.sleep))}', flush=True)
    next_tick = [time.monotonic()]

    def deadline_sleep():
        next_tick[0] += NOMINAL_PERIOD_S
        time.sleep(max(0.0, next_tick[0] - time.monotonic()))

    print(f'monotonic deadline sleep: jitter {percentiles_ms(measure(deadline_sleep))}',
          flush=True)
    rate.destroy()
    executor.shutdown()
    node.destroy_node()
    rclpy.shutdown()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seconds', type=float, default=60.0,
                        help='how long to record the loop once transitions flow')
    parser.add_argument('--calls', type=int, default=300, help='Policy.act calls per setting')
    parser.add_argument('--skip-graph', action='store_true')
    parser.add_argument('--skip-inference', action='store_true')
    parser.add_argument('--nice', type=int, default=0,
                        help='run the graph\'s nodes and the inference at this priority '
                        '(negative: ahead of '
                        'other work on the machine; needs root), to tell the actor\'s own '
                        'jitter from that of a CPU shared with other processes')
    parser.add_argument('--timers', action='store_true',
                        help='also compare rclpy Rate with a monotonic deadline sleep')
    args = parser.parse_args()
    private_ros_domain()  # never the domain of a training run's learner
    os.environ.setdefault('MUJOCO_GL', 'egl')
    print(f'load average at the start {load_average()}', flush=True)
    if not args.skip_inference:
        if args.nice:
            os.setpriority(os.PRIO_PROCESS, 0, args.nice)  # this thread and torch's, later
        inference(args.calls)
    if args.timers:
        timers(min(args.seconds, 30.0))
    if not args.skip_graph:
        graph_jitter(args.seconds, args.nice)


if __name__ == '__main__':
    main()
