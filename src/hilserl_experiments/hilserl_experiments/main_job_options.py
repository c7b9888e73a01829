"""The main job's command line (scripts/train_sim --help) and its stages. The options' values
come from an experiment file (experiments/sim_grasp.yaml unless --experiment names another);
the command line overrides them."""
import argparse

from hilserl_common.figures import MOVING_AVERAGE_EPISODES
from hilserl_experiments.experiment import parse_with_experiment
from so101_description.cameras import CAMERAS

STAGES = ('demos', 'encoder', 'classifier', 'train', 'evaluate', 'report')
MAX_ROBOTS = 8  # one simulated arm's nodes take about half a core at 0.3 x real time
ABLATIONS = {
    'full': 'demos and the simulated operator\'s corrections',
    'no_interventions': 'demos, no corrections',
    'no_demos': 'corrections, no demos',
}


def parse_options(argv=None):
    from hilserl_experiments import main_job
    parser = argparse.ArgumentParser(prog='scripts/train_sim', description=main_job.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--output-dir', help='everything goes here')
    parser.add_argument('--demos', type=int, help='demonstrations to record')
    parser.add_argument('--classifier-episodes', type=int,
                        help='episodes of the auto-labelled classifier dataset')
    parser.add_argument('--classifier-steps', type=int,
                        help='frames per episode of the classifier dataset')
    parser.add_argument('--classifier-carry-places', type=int,
                        help='places each lift of the classifier dataset carries the hand to '
                        '(0: held where it was lifted)')
    parser.add_argument('--classifier-set', action='append', default=[], metavar='NAME=VALUE',
                        help='a reward classifier training parameter, e.g. epochs=10')
    parser.add_argument('--classifier-views', nargs='+', choices=CAMERAS,
                        help='the cameras the reward classifier looks through')
    parser.add_argument('--encoder', choices=('pretrained', 'random'),
                        help='image encoder: pretrained on labelled simulated frames (the encoder '
                        'stage), or a fixed random ResNet-10')
    parser.add_argument('--encoder-episodes', type=int,
                        help='simulated episodes of the encoder\'s pretraining frames')
    parser.add_argument('--encoder-epochs', type=float,
                        help='passes over the pretraining frames')
    parser.add_argument('--episodes', type=int, help='training episode budget')
    parser.add_argument('--episode-seconds', type=float,
                        help='length of training and evaluation episodes (control_time_s; '
                        'default: config/task.yaml); demonstrations keep the configured length')
    parser.add_argument('--target-success', type=float,
                        help='stop training once two evaluation rounds in a row reach this '
                        'success rate (and the interventions are below --target-interventions)')
    parser.add_argument('--target-interventions', type=float,
                        help='... and the operator corrected less than this share of the steps '
                        f'of the last {MOVING_AVERAGE_EPISODES} training episodes')
    parser.add_argument('--mine-after', type=int,
                        help='training episodes before the hard-negative mining round (0: none)')
    parser.add_argument('--eval-every', type=int,
                        help='training episodes between evaluation rounds')
    parser.add_argument('--eval-round-episodes', type=int,
                        help='episodes of a periodic evaluation round (at 10, 80%% success has '
                        'a 95%% interval of 49-94%%; at 20, 58-92%%)')
    parser.add_argument('--final-eval-episodes', type=int)
    parser.add_argument('--real-time-factor', type=float,
                        help='simulation speed of the training graph (1: real time; larger: '
                        'faster, with /clock). Below 1 leaves the actor, the cameras and the '
                        'classifier CPU beside the learner: on 2 cores at 1.0 the actor fell to '
                        '3-9 Hz in bursts and the policy did not learn (0%% evaluation success '
                        'after 25 episodes; 80%% at 0.3). The final evaluation runs at the same '
                        'speed (a policy trained at 0.3 scored 90%% there and 64%% at real time); '
                        'demonstrations run in real time')
    parser.add_argument('--robots', type=int,
                        help='simulated arms feeding the one learner in training, each in its own '
                        'robot namespace (so101, so101_b, ...), seed, operator and console port '
                        '(--console-port + k); the first arm also runs the evaluation rounds. The '
                        'other arms\' records go to <output-dir>/arms/<robot>/')
    parser.add_argument('--set', action='append', default=[], metavar='NODE.PARAM=VALUE',
                        help='a node parameter for the graphs, e.g. learner.utd_ratio=10 '
                        '(node "*": every node)')
    parser.add_argument('--seed', type=int,
                        help='seed of the simulation, the simulated operator, the policy and the '
                        'learner in every graph')
    parser.add_argument('--console-port', type=int,
                        help='port of the operator console, served on localhost while each '
                        'graph runs (0: any free port; -1: no console)')
    parser.add_argument('--ablation', choices=sorted(ABLATIONS),
                        help='what the run leaves out (the ablations\' experiment files set it)')
    parser.add_argument('--skip', nargs='*', default=[], choices=STAGES,
                        help='stages to leave out')
    options = parse_with_experiment(parser, argv, default='sim_grasp')
    if not 1 <= options.robots <= MAX_ROBOTS:
        parser.error(f'--robots {options.robots}: between 1 and {MAX_ROBOTS} arms')
    return options
