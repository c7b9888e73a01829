"""The whole classifier pipeline in simulation, with its figures: generate an auto-labelled
dataset (MuJoCo, scripted grasps), train on it, evaluate on the validation frames.

    python benchmarks/reward_classifier_sim.py --output runs/rc_benchmark [--episodes 40]
        [--seed 0] [--config config/reward_classifier.yaml] [--set epochs=10 ...]

Prints the dataset's class balance, the validation accuracy/precision/recall and the time of
each stage; the model lands in OUTPUT/model, the dataset in OUTPUT/dataset.
"""
import argparse
import json
import sys
import time
from pathlib import Path

from reward_classifier.cli import main as cli


def stage(name, argv):
    started = time.monotonic()
    code = cli(argv)
    if code != 0:
        sys.exit(f'{name} failed (exit {code})')
    return time.monotonic() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--output', required=True, help='a new folder')
    parser.add_argument('--episodes', type=int, default=40)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--config', default='config/reward_classifier.yaml')
    parser.add_argument('--set', action='append', default=[], metavar='NAME=VALUE')
    args = parser.parse_args()
    output = Path(args.output)
    dataset, model = output / 'dataset', output / 'model'

    generate_s = stage('generate-sim', ['generate-sim', '--output', str(dataset),
                                        '--episodes', str(args.episodes),
                                        '--seed', str(args.seed)])
    overrides = [item for pair in args.set for item in ('--set', pair)]
    train_s = stage('train', ['train', '--labels', str(dataset), '--output', str(model),
                              '--config', args.config, '--no-progress'] + overrides)
    evaluate_s = stage('evaluate', ['evaluate', '--model', str(model), '--labels', str(dataset),
                                    '--frames', 'validation', '--config', args.config])
    report = json.loads((model / 'evaluation' / 'metrics.json').read_text())
    metrics = report['metrics']
    described = json.loads((model / 'reward_classifier.json').read_text())
    print('--- reward classifier, simulation pipeline ---')
    print(f'episodes {args.episodes} (seed {args.seed}), frames '
          f'{described["trained_on"]["frames"]}, best epoch '
          f'{described["metrics"]["best_epoch"]}')
    print(f'validation ({metrics["frames"]} frames): accuracy {metrics["accuracy"]:.4f}, '
          f'precision {metrics["precision"]:.4f}, recall {metrics["recall"]:.4f} at threshold '
          f'{metrics["threshold"]:.2f}')
    suggested = report['suggested_threshold']
    print(f'suggested threshold {suggested["threshold"]:.2f}: precision '
          f'{suggested["precision"]:.4f}, recall {suggested["recall"]:.4f}')
    print(f'time: generate {generate_s:.0f} s, train {train_s:.0f} s, evaluate {evaluate_s:.0f} s')


if __name__ == '__main__':
    main()
