"""The real-arm walkthrough and its rehearsal are one text: every command and parameter file of
the README's steps 4-8 is one the rehearsal runs, and the other way round; and a short rehearsal
(few episodes per step) runs the whole walkthrough on the simulated arm, through the real
graphs and the command line a person uses."""
import json
import re
import string
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml

from hilserl_experiments import rehearsal_walkthrough as walkthrough

ROOT = Path(__file__).resolve().parents[3]
WIDE = ('labels', 'episodes')  # placeholders that stand for several words


def readme_walkthrough():
    """(commands, parameter files) of the README's walkthrough, between its markers."""
    text = (ROOT / 'README.md').read_text()
    section = text.split('<!-- walkthrough')[1].split('<!-- end of walkthrough -->')[0]
    blocks = re.findall(r'^( *)```(\w+)\n(.*?)^\1```', section, re.S | re.M)
    commands = [line for indent, kind, body in blocks if kind == 'bash'
                for line in textwrap.dedent(body).splitlines() if line.strip()]
    files = [textwrap.dedent(body) for indent, kind, body in blocks if kind == 'yaml']
    return commands, files


def pattern(template: str) -> re.Pattern:
    parts = []
    for literal, field, _, _ in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if field is not None:
            parts.append('(.+?)' if field in WIDE else r'(\S+)')
    return re.compile(''.join(parts) + '$')


def test_the_readme_walkthrough_is_what_the_rehearsal_runs():
    commands, files = readme_walkthrough()
    used = set()
    for line in commands:
        matching = [name for name, template in walkthrough.COMMANDS.items()
                    if pattern(template).match(line)]
        assert matching, f'the README runs a command the rehearsal does not: {line}'
        used.update(matching)
    assert used == set(walkthrough.COMMANDS), 'commands of the rehearsal the README does not show'
    assert sorted(files) == sorted(walkthrough.FILES.values())
    # The README's numbers for step 4 are the rehearsal's defaults.
    section = (ROOT / 'README.md').read_text().split('<!-- walkthrough')[1]
    assert f'**{walkthrough.SUCCESSES} successes**' in section
    assert f'**{walkthrough.FAILURES_PER_KIND} near misses**' in section
    low, high = (round(100 * height) for height in walkthrough.LIFT_HEIGHTS_M)
    assert f'from {low} to {high} cm**' in section
    assert f'**carry it to {walkthrough.CARRY_PLACES} places**' in section


def test_the_rehearsal_runs_a_command_on_the_simulated_arm_and_only_there():
    assert walkthrough.rehearsed(walkthrough.command('record'), ['console:=false']) == [
        'run_graph', 'record_demos', 'sim:=true', 'output_dir:=runs/real', 'console:=false']
    train = walkthrough.rehearsed(walkthrough.command('train_classifier',
                                                      labels=walkthrough.DEMO_LABELS))
    assert train[train.index('--set') + 1] == 'views=["wrist_camera","front_camera"]'


def test_the_person_looks_earlier_until_the_sheet_shows_the_lift():
    from hilserl_experiments.rehearsal_person import first_success, look_earlier
    cube_up = np.arange(100) >= 30       # lifted at frame 30; S at frame 87
    shown = list(range(75, 100))         # the default sheet: 12 frames either side of the S
    assert first_success(shown, cube_up) == 75  # what the person set before looking earlier
    looked = 0
    while (centre := look_earlier(shown, cube_up)) is not None:
        shown = sorted(set(shown) | set(range(max(0, centre - 12), centre + 13)))
        looked += 1
    assert first_success(shown, cube_up) == 30 and looked == 2
    assert look_earlier(list(range(25)), np.ones(100, bool)) is None  # the start: nothing earlier


SHORT = ['--successes', '1', '--failures-per-kind', '1', '--mine-after', '2',
         '--train-episodes', '3', '--eval-episodes', '1', '--episode-seconds', '3',
         '--real-time-factor', '1.0',  # a tiny learner keeps up
         '--classifier-set', 'epochs=2', '--classifier-set', 'augmented_copies=0',
         '--set', 'learner.training_starts=20',
         # the served threshold at 0: the classifier rewards every frame (the gate still
         # decides the reward), so mining always has episodes for the person to review, label
         # and forget; at 0.05 a confident classifier rewarded none in some runs
         '--set', 'reward_classifier.threshold=0.0']


@pytest.mark.graph
@pytest.mark.timeout(900)  # about 4 minutes on a quiet 2-core machine; more when it is shared
def test_a_short_rehearsal_follows_the_whole_walkthrough(tmp_path):
    from hilserl_learner.networks.encoder import load_backbone, save_backbone_weights
    weights = tmp_path / 'local_resnet10.safetensors'  # a local file, as on the real arm
    save_backbone_weights(load_backbone('', quiet=True), str(weights))
    work = tmp_path / 'rehearsal'
    done = subprocess.run([sys.executable, '-m', 'hilserl_experiments.rehearsal',
                           '--encoder-weights', str(weights), '--output-dir', str(work), *SHORT],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=840)
    output = done.stdout
    assert done.returncode == 0, output
    # each step printed the command a person types: the README's, with sim:=false
    for name in ('record', 'train', 'mine', 'evaluate'):
        assert f'$ {walkthrough.command(name)}' in output
    assert '$ reward_classifier_cli label --labels runs/real/mined/labels.yaml' in output
    run = work / walkthrough.RUN
    labels = yaml.safe_load((run / 'demos' / 'labels.yaml').read_text())['episodes']
    assert sum(label['success_from_frame'] is not None for label in labels.values()) >= 1
    assert sum(label['success_from_frame'] is None for label in labels.values()) >= 3
    metadata = yaml.safe_load((run / 'demos' / 'episode_0000' / 'metadata.yaml').read_text())
    topics = {t['topic_metadata']['name']
              for t in metadata['rosbag2_bagfile_information']['topics_with_message_count']}
    assert {'/so101/wrist_camera/image_proc', '/so101/front_camera/image_proc'} <= topics
    classifier = json.loads((run / 'reward_classifier' / 'reward_classifier.json').read_text())
    assert classifier['architecture']['views'] == ['wrist_camera', 'front_camera']
    assert 'local_resnet10' not in classifier['encoder_identity']  # copied where the README says
    assert 'resnet10.safetensors' in classifier['encoder_identity']
    # mining went through needs_review.yaml and the person's labels
    review = yaml.safe_load((run / 'mined' / 'needs_review.yaml').read_text())
    mined = yaml.safe_load((run / 'mined' / 'labels.yaml').read_text())['episodes']
    assert review and set(mined) == set(review)
    report = json.loads((work / 'report.json').read_text())
    assert report['reward_agreement']['episodes'] >= 3
    assert report['evaluation']['episodes'] == 1
    assert 0.0 <= report['classifier_validation_accuracy'] <= 1.0


def test_the_report_compares_with_the_main_jobs_round_at_the_same_budget(tmp_path):
    from hilserl_experiments.rehearsal import main_job_round, main_job_text
    assert main_job_round(tmp_path, 60) is None
    assert 'no evaluation round' in main_job_text(None)
    rounds = [{'after_train_episodes': n, 'episodes': 20, 'success_rate': rate,
               'success_interval': [rate - 0.2, rate + 0.1]}
              for n, rate in ((25, 0.3), (50, 0.8), (75, 0.9))]
    (tmp_path / 'eval_rounds.jsonl').write_text(''.join(json.dumps(r) + '\n' for r in rounds))
    same = main_job_round(tmp_path, 60)
    assert (same['after_train_episodes'], same['success_rate']) == (50, 0.8)
    assert 'after 50 training episodes: 80% of 20' in main_job_text(same)
