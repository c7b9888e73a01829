"""Pretrain the ResNet-10 image encoder on labelled frames of the simulated cell (a simulation
aid: the real arm loads ImageNet ResNet-10 weights from a file instead).

    python -m hilserl_bringup.pretrain_encoder --output runs/sim/encoder [--episodes 120]

Writes `<output>/resnet10_sim.safetensors` (the `encoder_weights` of the learner and the reward
classifier) and `<output>/report.json` (frames, training steps, held-out errors, timings).
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

WEIGHTS_FILE = 'resnet10_sim.safetensors'


def parse_options(argv=None):
    parser = argparse.ArgumentParser(prog='python -m hilserl_bringup.pretrain_encoder',
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
    from so101_driver.sim.privileged_frames import LABELS, FramePlan, generate_frames

    if options.episodes < 1 or options.steps < 1 or options.epochs <= 0:
        print('--episodes, --steps and --epochs must be positive', file=sys.stderr)
        return 2
    if options.threads:
        torch.set_num_threads(options.threads)
    output = Path(options.output)
    output.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    data = generate_frames(FramePlan(options.episodes, options.steps, seed=options.seed),
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
    print(f'wrote {path} in {report["total_s"]:.0f} s', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
