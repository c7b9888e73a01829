"""The real-arm walkthrough (README, "On the real arm", steps 4-8) as the commands a person types
and the parameter files they write: one text with the README, which shows them between
`<!-- walkthrough -->` markers (a test compares the two), and what `scripts/rehearse_real_arm`
runs on the simulated arm (hilserl_experiments.rehearsal). No ROS import here.

A command's `{placeholders}` stand for what the person fills in at that point: an episode they
are looking at, the frame they choose, the label files, the episodes whose reward was wrong.
"""
import shlex
from typing import Dict, List

RUN = 'runs/real'
ENCODER_WEIGHTS = 'resnet10.safetensors'  # a local ResNet-10 file (ImageNet weights)
TRAIN_OVERRIDES = 'my_overrides.yaml'
EVAL_OVERRIDES = 'my_eval.yaml'
DEMO_LABELS = f'{RUN}/demos/labels.yaml'
MINED_LABELS = f'{RUN}/mined/labels.yaml'
VIEWS = '["wrist_camera","front_camera"]'

COMMANDS: Dict[str, str] = {
    # step 4: successes, then failures on purpose, marked with the keys (S, F, R)
    'record': f'run_graph record_demos sim:=false output_dir:={RUN}',
    # step 5: check each success's cutoff on its contact sheet, then train the classifier
    'contact_sheet': f'reward_classifier_cli contact-sheet --labels {DEMO_LABELS} '
                     '--episode {episode}',
    'contact_sheet_earlier': f'reward_classifier_cli contact-sheet --labels {DEMO_LABELS} '
                             '--episode {episode} --around {frame}',
    'label': f'reward_classifier_cli label --labels {DEMO_LABELS} --episode {{episode}} '
             '--success-from-frame {frame}',
    'train_classifier': f'reward_classifier_cli train --labels {{labels}} --output '
                        f"{RUN}/reward_classifier --set views='{VIEWS}' "
                        f'--set encoder_weights={ENCODER_WEIGHTS}',
    'evaluate_classifier': f'reward_classifier_cli evaluate --model {RUN}/reward_classifier '
                           '--labels {labels} --frames validation --save-threshold '
                           f'--encoder-weights {ENCODER_WEIGHTS}',
    # step 6
    'train': f'run_graph train sim:=false output_dir:={RUN} config_file:={TRAIN_OVERRIDES}',
    # step 7: mine, label what the classifier rewarded, retrain, forget the wrong rewards
    'mine': f'reward_classifier_cli mine --run {RUN} --model {RUN}/reward_classifier '
            f'--output {RUN}/mined',
    'label_mined': f'reward_classifier_cli label --labels {MINED_LABELS} --episode {{episode}} '
                   '--success-from-frame {frame}',
    'forget': f'python -m hilserl_learner.replay.journal {RUN}/learner/journal '
              '--remove-episodes {episodes}',
    # step 8
    'evaluate': f'run_graph eval sim:=false output_dir:={RUN} config_file:={EVAL_OVERRIDES}',
}

# The parameter files of steps 6 and 8, as the README shows them.
FILES: Dict[str, str] = {
    TRAIN_OVERRIDES: f"""\
/**/learner:
  ros__parameters:
    demo_paths: {RUN}/demos               # the successful episodes of step 4
    encoder_weights: {ENCODER_WEIGHTS}
    resume: true                          # a restart (step 7) goes on where it stopped
/**/reward_classifier:
  ros__parameters:
    encoder_weights: {ENCODER_WEIGHTS}
""",
    EVAL_OVERRIDES: f"""\
/**/actor:
  ros__parameters:
    policy_file: {RUN}/learner/policy.safetensors
    eval_episodes: 50
/**/reward_classifier:
  ros__parameters:
    encoder_weights: {ENCODER_WEIGHTS}
""",
}

# What the walkthrough asks of step 4 (hil-serl's walkthrough: two to three times more
# negatives than positives, every failure mode among them).
SUCCESSES = 20
FAILURES_PER_KIND = 15
# How high the person lifts, a different height each time: from just clear of the table to
# well above where the policy will hold it (EE height, m). A classifier that saw the cube up at
# one height, and only for the instant before S, missed half the successes of a policy that
# held it 5-16 cm up.
LIFT_HEIGHTS_M = (0.05, 0.18)
# Places the person carries the lifted hand to before pressing a key, in every demonstration
# (the cube held, or the empty hand of a failure), each a few cm across and at another height:
# a classifier that saw the cube up only straight above where it lay missed a policy that drew
# it back towards the base.
CARRY_PLACES = 3


def command(name: str, **values) -> str:
    """A walkthrough command with its placeholders filled in."""
    return COMMANDS[name].format(**values)


def rehearsed(text: str, extra: List[str] = ()) -> List[str]:
    """The command as the rehearsal runs it: on the simulated arm (`sim:=true`), with the
    rehearsal's own additions (the simulated person's plan, no console, ...)."""
    return [('sim:=true' if token == 'sim:=false' else token)
            for token in shlex.split(text)] + list(extra)
