"""Pretrain the ResNet-10 image encoder on labelled frames of the simulated cell (a simulation
aid: the real arm loads ImageNet ResNet-10 weights from a file instead).

    python -m hilserl_experiments.pretrain_encoder --output runs/sim/encoder [--episodes 120]

Writes `<output>/resnet10_sim.safetensors` (the `encoder_weights` of the learner and the reward
classifier) and `<output>/report.json` (frames, training steps, held-out errors, timings).
The weights are also kept in the workspace cache (~/.cache/so101_hilserl/encoders), keyed by
everything they depend on (the simulated cell, the frames, the training settings, this code's
version), so a second run with the same settings copies them instead of training again.
"""
import argparse
import dataclasses
import hashlib
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

WEIGHTS_FILE = 'resnet10_sim.safetensors'
VERSION = 1  # bump when the frames or the pretraining change, so cached weights are redone


def parse_options(argv=None):
    parser = argparse.ArgumentParser(prog='python -m hilserl_experiments.pretrain_encoder',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('--output', required=True, help='folder for the weights and report')
    parser.add_argument('--episodes', type=int, default=120, help='simulated episodes')
    parser.add_argument('--steps', type=int, default=40, help='frames per episode and camera')
    parser.add_argument('--epochs', type=float, default=3.0, help='passes over the frames')
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--threads', type=int, default=0, help='torch threads (0: default)')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    options = parse_options(argv)
    from hilserl_learner.networks.encoder import save_backbone_weights
    from hilserl_learner.networks.pretraining import pretrain_backbone
    from so101_sim.privileged_frames import LABELS, FramePlan, generate_frames

    if options.episodes < 1 or options.steps < 1 or options.epochs <= 0:
        print('--episodes, --steps and --epochs must be positive', file=sys.stderr)
        return 2
    if options.threads:
        torch.set_num_threads(options.threads)
    output = Path(options.output)
    output.mkdir(parents=True, exist_ok=True)
    plan = FramePlan(options.episodes, options.steps, seed=options.seed)
    cached = cache_path(plan, options)
    if cached.exists() and cached.with_suffix('.json').exists():
        shutil.copyfile(cached, output / WEIGHTS_FILE)
        shutil.copyfile(cached.with_suffix('.json'), output / 'report.json')
        print(f'pretrained encoder from the cache: {cached}', flush=True)
        return 0
    started = time.monotonic()
    from hilserl_experiments.in_process import build_config
    data = generate_frames(plan, build_config('sim', {}),  # the cell of config/sim.yaml
                           log=lambda text: print(text, flush=True))
    generated_s = time.monotonic() - started
    images = data['images'].reshape(-1, *data['images'].shape[2:])  # every camera's frames
    labels = np.repeat(data['labels'], data['images'].shape[1], axis=0)
    print(f'{len(images)} frames ({data["images"].shape[1]} cameras) in {generated_s:.0f} s',
          flush=True)
    report = {}
    backbone = pretrain_backbone(images, labels, [kind == 'flag' for kind in LABELS.values()],
                                 epochs=options.epochs, batch_size=options.batch_size,
                                 seed=options.seed, report=report,
                                 log=lambda text: print(text, flush=True))
    path = output / WEIGHTS_FILE
    save_backbone_weights(backbone, str(path))
    report.update({'frames': int(len(images)), 'labels': list(LABELS),
                   'generation_s': round(generated_s, 1),
                   'total_s': round(time.monotonic() - started, 1), 'weights': str(path)})
    (output / 'report.json').write_text(json.dumps(report, indent=1) + '\n')
    cached.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, cached)
    shutil.copyfile(output / 'report.json', cached.with_suffix('.json'))
    print(f'wrote {path} in {report["total_s"]:.0f} s', flush=True)
    return 0


def cache_path(plan, options) -> Path:
    """Where weights pretrained with these settings on this simulated cell are kept."""
    from hilserl_experiments.in_process import build_config
    from so101_sim.meshes import cache_dir
    cell = build_config('sim', {})
    key = json.dumps({'version': VERSION, 'cell': dataclasses.asdict(cell),
                      'plan': dataclasses.asdict(plan), 'epochs': options.epochs,
                      'batch_size': options.batch_size}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir() / 'encoders' / f'resnet10_sim-{digest}.safetensors'


if __name__ == '__main__':
    sys.exit(main())
