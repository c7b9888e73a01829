"""`reward_classifier_cli`: label, train and evaluate the success classifier, and generate an
auto-labelled dataset in simulation.

    reward_classifier_cli contact-sheet --labels DATA/labels.yaml --episode episode_003
    reward_classifier_cli label --labels DATA --episode episode_003 --success-from-frame 37
    reward_classifier_cli train --labels DATA/labels.yaml --output runs/reward_classifier
    reward_classifier_cli evaluate --model runs/reward_classifier --labels DATA/labels.yaml
    reward_classifier_cli generate-sim --output DATA --episodes 40
    reward_classifier_cli mine --run RUN --model RUN/reward_classifier --output RUN/mined
"""
import argparse
import sys
from typing import List, Optional

from hilserl_common.config import ConfigError
from reward_classifier.commands import (
    CommandError,
    contact_sheet_command,
    evaluate_command,
    generate_sim_command,
    label_command,
    mine_command,
    train_command,
)
from reward_classifier.config import TRAINING_SECTION


def _user_errors():
    from reward_classifier.data.bags import BagError
    from reward_classifier.data.labels import LabelError
    from reward_classifier.model import ModelMismatch
    return (CommandError, ConfigError, LabelError, BagError, ModelMismatch)


def main(argv: Optional[List[str]] = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args) or 0
    except _user_errors() as error:
        print(f'reward_classifier_cli {args.command}: {error}', file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='reward_classifier_cli', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest='command', required=True)

    sheet = commands.add_parser('contact-sheet', help='frames around an episode\'s cutoff, as a '
                                'PNG, to set or check labels')
    sheet.add_argument('--labels', required=True, help='label file (or its folder)')
    sheet.add_argument('--episode', required=True, help='episode name in the label file')
    sheet.add_argument('--around', type=int, help='centre frame (default: the cutoff, or the '
                       'first success range, or the middle of the episode)')
    sheet.add_argument('--radius', type=int, default=12, help='frames either side')
    sheet.add_argument('--columns', type=int, default=8)
    sheet.add_argument('--output', help='PNG path (default: <episode>_contact_sheet.png next to '
                       'the label file)')
    sheet.set_defaults(run=contact_sheet_command)

    label = commands.add_parser('label', help='set an episode\'s success cutoff in a label file '
                                '(after looking at its contact sheet)')
    label.add_argument('--labels', required=True, help='label file (or its folder)')
    label.add_argument('--episode', required=True, help='episode bag beside the label file')
    label.add_argument('--success-from-frame', required=True, metavar='N|none',
                       help='first frame showing success; none: never a success')
    label.set_defaults(run=label_command)

    train = commands.add_parser('train', help='train on a labelled dataset')
    train.add_argument('--labels', required=True, nargs='+',
                       help='label file(s) (or their folders): a dataset, plus mined frames')
    train.add_argument('--output', default='runs/reward_classifier',
                       help='model directory to write')
    _config_arguments(train)
    train.add_argument('--no-progress', action='store_true', help='no progress bar')
    train.set_defaults(run=train_command)

    evaluate = commands.add_parser('evaluate', help='metrics, threshold sweep and worst false '
                                   'positives of a trained model')
    evaluate.add_argument('--model', required=True, help='model directory')
    evaluate.add_argument('--labels', required=True, nargs='+',
                          help='label file(s) (or their folders), as given to train')
    evaluate.add_argument('--frames', choices=('all', 'validation', 'train'), default='all',
                          help='which frames: validation/train repeat the model\'s own split '
                          '(same label file, seed and fraction)')
    evaluate.add_argument('--encoder-weights', default=None,
                          help='encoder weights (default: from --config, else none)')
    evaluate.add_argument('--config', help='config/reward_classifier.yaml for encoder_weights')
    evaluate.add_argument('--threshold', type=float, help='default: the model\'s threshold')
    evaluate.add_argument('--min-recall', type=float, default=0.9, help='the suggested '
                          'threshold is the most precise one that keeps this recall')
    evaluate.add_argument('--save-threshold', action='store_true', help='store the suggested '
                          'threshold in the model (the node uses it when its threshold is -1)')
    evaluate.add_argument('--worst', type=int, default=24, help='false positives to show')
    evaluate.add_argument('--output', help='folder for metrics.json and the PNGs '
                          '(default: <model>/evaluation)')
    evaluate.set_defaults(run=evaluate_command)

    generate = commands.add_parser('generate-sim', help='auto-labelled episodes from the '
                                   'MuJoCo simulation, as rosbag2 MCAP bags + labels.yaml')
    generate.add_argument('--output', required=True, help='dataset folder to write')
    generate.add_argument('--episodes', type=int, default=40)
    generate.add_argument('--seed', type=int, default=0)
    generate.add_argument('--failure-fraction', type=float, default=0.35,
                          help='share of episodes whose scripted grasp is made to miss')
    generate.add_argument('--steps', type=int, default=60, help='frames per episode')
    generate.add_argument('--carry-places', type=int, default=0, help='places each lift (but '
                          'the low ones) then carries the hand to, within 6 cm across and at '
                          'another height: the cube up where a policy may hold it, not only '
                          'straight above where it lay')
    generate.add_argument('--control-rate-hz', type=float, default=10.0,
                          help='frames per simulated second (task.yaml control_rate_hz)')
    generate.add_argument('--namespace', default='', help='robot namespace of the topics')
    generate.set_defaults(run=generate_sim_command)

    mine = commands.add_parser('mine', help='hard negatives: the frames of a training run the '
                               'classifier rewarded, and those of episodes where reward and '
                               'outcome disagreed, as a labelled dataset (labelled by the '
                               'simulation, or left for the operator to label)')
    mine.add_argument('--run', required=True, dest='run_dir', help='the run\'s output '
                      'directory (with reward_journal/ and episodes.jsonl)')
    mine.add_argument('--model', required=True, help='the classifier that served the run '
                      '(its threshold and views)')
    mine.add_argument('--output', required=True, help='new folder for the mined dataset')
    mine.add_argument('--without-simulation', action='store_true', help='a simulated run mined '
                      'as the real arm\'s: the rewarded frames, none labelled by the simulation '
                      '(rehearsing the real arm)')
    mine.set_defaults(run=mine_command)
    return parser


def _config_arguments(parser):
    parser.add_argument('--config', help='ROS parameter file with a '
                        f'"{TRAINING_SECTION}:" section (default: built-in defaults)')
    parser.add_argument('--set', action='append', default=[], metavar='NAME=VALUE',
                        help='override one training parameter, e.g. --set epochs=10')


if __name__ == '__main__':
    sys.exit(main())
