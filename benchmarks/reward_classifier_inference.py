"""Inference time of the reward classifier per wrist frame, on this CPU, as the node runs it:
one 128x128 uint8 frame at a time, through the frozen ResNet-10, spatial embeddings and head.

    python benchmarks/reward_classifier_inference.py [--model runs/reward_classifier]
        [--threads 1] [--frames 300] [--encoder-weights '']

Without --model a freshly initialised head is timed (same cost as a trained one).
Prints median / p90 / mean ms per frame for single frames, and ms per frame in batches of 64.
"""
import argparse
import statistics
import time
import warnings

import numpy as np
import torch


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--model', help='trained model folder (default: an untrained head)')
    parser.add_argument('--encoder-weights', default='')
    parser.add_argument('--threads', type=int, default=1, help='torch CPU threads (the node '
                        'uses 1 by default)')
    parser.add_argument('--frames', type=int, default=300)
    args = parser.parse_args()

    from reward_classifier.model import build_classifier, load_classifier
    torch.set_num_threads(args.threads)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        if args.model:
            model, _ = load_classifier(args.model, args.encoder_weights)
        else:
            model = build_classifier(args.encoder_weights)
    model.eval()
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (args.frames, 128, 128, 3), dtype=np.uint8)
    for frame in frames[:10]:                       # warm-up: oneDNN picks its kernels
        model.predict(frame[None])
    single_ms = []
    for frame in frames:
        started = time.perf_counter()
        model.predict(frame[None])
        single_ms.append(1000 * (time.perf_counter() - started))
    single_ms.sort()
    started = time.perf_counter()
    model.predict(frames, batch_size=64)
    batched_ms = 1000 * (time.perf_counter() - started) / len(frames)
    print(f'reward classifier inference, {args.threads} thread(s), {len(frames)} frames, '
          f'encoder {model.encoder_identity}')
    print(f'single frame: median {statistics.median(single_ms):.2f} ms, '
          f'p90 {single_ms[int(0.9 * len(single_ms))]:.2f} ms, '
          f'mean {statistics.fmean(single_ms):.2f} ms')
    print(f'batches of 64: {batched_ms:.2f} ms/frame')


if __name__ == '__main__':
    main()
