"""Critic updates per second of the SAC learner at the learner's own defaults (LearnerConfig:
batch 256, one 128x128 camera, 18-dim state, frozen ResNet-10 with features stored per image,
the bottleneck image head, two critics), plus the memory per stored transition and the capacity
that fits in 8 GiB. An option given here overrides that default; `--profile` prints where an
update's time goes (torch's profiler, operators by their own CPU time).

    python benchmarks/learner_updates.py [--device cpu|cuda|auto] [--seconds 20] [--threads 2]
"""
import argparse
import os
import time

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile, record_function

from hilserl_learner.config import IMAGE_SHAPE, STATE_DIM, config_from
from hilserl_learner.replay.buffer import ReplayBuffer, sample_mixed, training_fields
from hilserl_learner.sac import agent as agent_module
from hilserl_learner.sac.agent import SACAgent


def filled_buffer(agent, capacity, rng):
    # As the learner keeps them: features instead of images when the backbone is frozen.
    buffer = ReplayBuffer(capacity, agent.encoder.feature_shape
                          if agent.cached_features else None,
                          store_images=not agent.cached_features)
    chunk = 64
    for _ in range(0, capacity, chunk):
        images = rng.integers(0, 256, (chunk,) + IMAGE_SHAPE, dtype=np.uint8)
        columns = {
            'state': rng.normal(size=(chunk, STATE_DIM)).astype(np.float32),
            'next_state': rng.normal(size=(chunk, STATE_DIM)).astype(np.float32),
            'action': rng.uniform(-1, 1, (chunk, 3)).astype(np.float32),
            'gripper_action': rng.integers(0, 3, chunk).astype(np.uint8),
            'reward': (rng.random(chunk) < 0.1).astype(np.float32),
            'gripper_penalty': np.zeros(chunk, np.float32),
            'terminated': rng.random(chunk) < 0.05, 'truncated': rng.random(chunk) < 0.05,
            'is_intervention': np.zeros(chunk, bool),
            'image': images, 'next_image': np.roll(images, 1, axis=0)}
        if agent.cached_features:
            features = agent.features(images)
            columns['features'] = features
            columns['next_features'] = np.roll(features, 1, axis=0)
        buffer.add(columns)
    return buffer


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--device', default='auto')
    parser.add_argument('--seconds', type=float, default=20.0)
    parser.add_argument('--threads', type=int, default=0)
    parser.add_argument('--buffer', type=int, default=2048, help='transitions per buffer')
    parser.add_argument('--augmentation', action='store_true', default=None)
    parser.add_argument('--precision', choices=('auto', 'fp32', 'bf16'))
    parser.add_argument('--dropout', type=float)
    parser.add_argument('--image-head', choices=('spatial', 'bottleneck'))
    parser.add_argument('--profile', action='store_true',
                        help='after the timed run, profile 20 updates and print the top operators')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = {'device': args.device, 'image_augmentation': args.augmentation,
                 'precision': args.precision, 'image_dropout': args.dropout,
                 'image_head': args.image_head}
    config = config_from({name: value for name, value in overrides.items() if value is not None})
    agent = SACAgent(config)
    rng = np.random.default_rng(0)
    online = filled_buffer(agent, args.buffer, rng)
    demo = filled_buffer(agent, args.buffer, rng)
    fields = training_fields(agent.cached_features)

    def one_update(step):
        with record_function('sample a batch, to tensors'):
            batch = sample_mixed(online, demo, config.batch_size, config.demo_ratio, rng, fields)
            tensors = agent.batch_to_tensors(batch)
        return agent.update(tensors, update_actor=step % config.actor_update_period == 0)

    for step in range(10):
        one_update(step)
    if agent.device.type == 'cuda':
        torch.cuda.synchronize()
    steps, start, cpu_start = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < args.seconds:
        result = one_update(steps)
        steps += 1
    float(result['critic_loss'])  # waits for the device
    elapsed = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    per_transition = online.bytes_per_transition()
    print(f'device: {agent.device} ({torch.get_num_threads()} CPU threads), batch '
          f'{config.batch_size}, utd {config.utd_ratio}, actor every '
          f'{config.actor_update_period} critic updates, image matmuls in '
          f'{agent.encoder.matmul_dtype}, image head {config.image_head}, dropout '
          f'{config.image_dropout}, cached features: {agent.cached_features}')
    print(f'critic updates/s: {steps / elapsed:.1f}  ({steps} in {elapsed:.1f} s)')
    # On a machine shared with other work, CPU time per update is the steadier figure: it is
    # what an otherwise idle machine would need (wall time also counts waiting for a core).
    print(f'CPU time per update: {cpu_seconds / steps * 1e3:.1f} ms (all threads); load '
          f'average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores')
    print(f'memory per stored transition: {per_transition} bytes '
          f'({per_transition / 1024:.1f} KiB); capacity in 8 GiB: '
          f'{int(8 * 2**30 // per_transition)} transitions')
    if args.profile:
        label_parts(agent)
        print_profile(lambda: [one_update(step) for step in range(PROFILED_UPDATES)])


PROFILED_UPDATES = 20


def print_profile(work, rows: int = 25) -> None:
    """torch's profiler over `work`: the parts of an update (label_parts), then operators by
    their own CPU time, the costliest first."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        work()
    events = prof.key_averages()
    print('CPU ms per critic update by part (a part includes the parts it calls, e.g. the '
          'actor update its critics and backward):')
    for event in sorted(events, key=lambda e: -e.cpu_time_total):
        if event.key in PART_LABELS:
            print(f'  {event.cpu_time_total / PROFILED_UPDATES / 1e3:6.2f}  {event.key}')
    print(events.table(sort_by='self_cpu_time_total', row_limit=rows))


PART_LABELS = set()


def label_parts(agent) -> None:
    """Profiler labels on the agent's network calls and steps, for where an update's time goes:
    each network's forward pass (by what it reads), each backward + clip + Adam step, the
    Polyak average."""
    def label(owner, method, name):
        if not hasattr(owner, method):  # a method that this version of the agent lacks
            return
        call = getattr(owner, method)

        def labelled(*args, **kwargs):
            text = name(args) if callable(name) else name
            PART_LABELS.add(text)
            with record_function(text):
                return call(*args, **kwargs)
        setattr(owner, method, labelled)

    def of_s_or_next(what):  # in an update, s is read with gradient, s' without
        return lambda args: what + (' of s' if torch.is_grad_enabled() else " of s'")
    optimizers = {id(agent.critic_optimizer): 'critics + encoder',
                  id(agent.gripper_optimizer): 'gripper critic',
                  id(agent.actor_optimizer): 'actor',
                  id(agent.temperature_optimizer): 'temperature'}
    label(agent.encoder, 'forward', of_s_or_next('encoder'))
    label(agent.encoder, 'pair', "online + target encoder of s' (paired)")
    label(agent.encoder_target, 'forward', "target encoder of s'")
    label(agent.critic, 'forward', 'critics (critic loss)')
    label(agent.critic, 'action_values', 'critics (actor loss)')
    label(agent.critic_target, 'forward', "target critics of s'")
    label(agent.actor, 'forward', "actor of s' (a')")
    label(agent.gripper_critic, 'forward', of_s_or_next('gripper critic'))
    label(agent.gripper_target, 'forward', "target gripper critic of s'")
    label(agent, 'update_actor', 'actor + temperature update (every second update)')
    label(agent, '_step', lambda args: f'backward + clip + Adam: {optimizers[id(args[0])]}')
    label(agent_module, 'polyak_update', 'Polyak average of the targets')
    PART_LABELS.add('sample a batch, to tensors')


if __name__ == '__main__':
    main()
