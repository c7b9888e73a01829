"""Hard-negative mining through the CLI: a run whose classifier rewarded near misses (jaws in
view, cube still on the table) gives exactly the rewarded and the disagreeing frames, labelled
by the simulation's verdict, and a model retrained with them no longer rewards near misses."""
import json
import warnings

import numpy as np
import pytest
import yaml

from hilserl_common.records import append_record
from reward_classifier.cli import main
from reward_classifier.data.dataset import load_labelled_frames
from reward_classifier.journal import UNKNOWN, RewardJournal
from reward_classifier.mining import MinedEpisode, write_mined
from reward_classifier.model import load_classifier

pytestmark = pytest.mark.filterwarnings('ignore:NO PRETRAINED ENCODER WEIGHTS')
TRAIN = ['--no-progress', '--set', 'epochs=25', '--set', 'early_stopping_patience=25',
         '--set', 'augment_brightness=0', '--set', 'augment_contrast=0',
         '--set', 'augment_saturation=0', '--set', 'augment_shift_px=0',
         '--set', 'learning_rate=0.001']


def near_miss(rng):
    """The gripper's jaws in view as in a success, but the cube still on the table."""
    image = np.empty((128, 128, 3), np.float32)
    image[:] = (90, 110, 140)
    image[80:] = (120, 90, 60)
    x = int(rng.integers(30, 90))
    image[10:60, x - 14:x + 22] = (35, 35, 35)
    image[88:100, x:x + 10] = (200, 30, 30)
    image *= rng.uniform(0.8, 1.2)
    image += rng.normal(0.0, 6.0, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def write_run(run, model, make_frame, rng):
    """Three training episodes: a real success (rewarded at its end), a near miss the
    classifier rewarded (a false success), an agreed failure. Returns each one's frames."""
    journal = RewardJournal(run / 'reward_journal', max_frames=1000, chunk_frames=7)
    episodes = {0: [make_frame(False, rng) for _ in range(6)] + [make_frame(True, rng)
                                                                 for _ in range(4)],
                1: [near_miss(rng) for _ in range(6)],
                2: [make_frame(False, rng) for _ in range(5)]}
    truth = {0: [False] * 6 + [True] * 4, 1: [False] * 6, 2: [False] * 5}
    for number, frames in episodes.items():
        start = 10.0 * (number + 1)
        probabilities = model.predict(np.stack(frames)[:, None])
        for k, (frame, p) in enumerate(zip(frames, probabilities)):
            journal.add(frame[None], float(p), start + 0.1 * k, truth[number][k])
        append_record(str(run / 'episodes.jsonl'), {
            'episode': number, 'mode': 'train', 'success': number in (0, 1),
            'sim_success': number == 0, 'start_s': start,
            'end_s': start + 0.1 * (len(frames) - 1), 'intervention_steps': 0})
    journal.flush()
    return episodes


def test_mining_adds_the_rewarded_and_disagreeing_frames_and_retraining_fixes_them(
        trained_model, synthetic_dataset, make_frame, tmp_path, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        model, description = load_classifier(trained_model)
    threshold = description['threshold']
    rng = np.random.default_rng(11)
    run = tmp_path / 'run'
    episodes = write_run(run, model, make_frame, rng)
    # the premise: the first classifier is fooled by near misses
    fooled = model.predict(np.stack(episodes[1])[:, None])
    assert np.mean(fooled >= threshold) > 0.5, fooled
    rewarded_in_success = model.predict(np.stack(episodes[0])[:, None]) >= threshold

    mined = tmp_path / 'mined'
    assert main(['mine', '--run', str(run), '--model', str(trained_model),
                 '--output', str(mined)]) == 0
    out = capsys.readouterr().out
    labels = yaml.safe_load((mined / 'labels.yaml').read_text())['episodes']
    assert set(labels) == {'mined_0000', 'mined_0001'}  # the agreed failure gives nothing
    assert 'mined_0001: 6 frames (rewarded and disagreed)' in out
    frames = load_labelled_frames(mined / 'labels.yaml')
    first = frames.episode_names.index('mined_0000')
    assert (frames.episode_index == first).sum() == rewarded_in_success.sum()
    assert np.all(frames.labels[frames.episode_index == first] == 1)  # true successes
    assert np.all(frames.labels[frames.episode_index != first] == 0)  # the near misses
    near = frames.images[frames.episode_index != first][:, 0]
    assert np.array_equal(near, np.stack(episodes[1]))  # exactly those frames

    retrained = tmp_path / 'retrained'
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        assert main(['train', '--labels', str(synthetic_dataset), str(mined / 'labels.yaml'),
                     '--output', str(retrained), *TRAIN]) == 0
        new_model, _ = load_classifier(retrained)
    fresh = np.stack([near_miss(rng) for _ in range(12)])[:, None]
    assert np.mean(new_model.predict(fresh) >= 0.5) < 0.25  # near misses are failures now
    successes = np.stack([make_frame(True, rng) for _ in range(12)])[:, None]
    assert np.mean(new_model.predict(successes) >= 0.5) > 0.75  # and successes still count
    trained_on = json.loads((retrained / 'reward_classifier.json').read_text())['trained_on']
    assert len(trained_on['labels']) == 2


def test_mining_needs_a_journal(trained_model, tmp_path, capsys):
    (tmp_path / 'run').mkdir()
    assert main(['mine', '--run', str(tmp_path / 'run'), '--model', str(trained_model),
                 '--output', str(tmp_path / 'mined')]) == 2
    assert 'no reward journal' in capsys.readouterr().err


def test_mined_frames_keep_every_view_and_real_arm_ones_wait_for_review(tmp_path, make_frame):
    rng = np.random.default_rng(3)
    views = ['wrist_camera', 'front_camera']

    def episode(name, sim_success):
        frames = np.stack([[make_frame(bool(s), rng), make_frame(False, rng)]
                           for s in sim_success])
        return MinedEpisode(name, frames, 1.0 + 0.1 * np.arange(len(frames)),
                            np.asarray(sim_success, np.int8), np.full(len(frames), 0.9),
                            'rewarded')

    summary = write_mined([episode('mined_0003', [0, 1, 1]),
                           episode('mined_0007', [UNKNOWN] * 4)], tmp_path / 'mined', views)
    assert summary['needs_review'] == ['mined_0007'] and summary['unlabelled'] == 4
    assert yaml.safe_load((tmp_path / 'mined' / 'needs_review.yaml').read_text()) == \
        ['mined_0007']
    assert (tmp_path / 'mined' / 'mined_0007_contact_sheet.png').exists()
    frames = load_labelled_frames(tmp_path / 'mined', views)
    assert frames.images.shape == (3, 2, 128, 128, 3) and frames.labels.tolist() == [0, 1, 1]


def test_without_a_simulation_a_person_labels_the_mined_episodes_through_the_cli(
        trained_model, make_frame, tmp_path, capsys):
    """The real arm's way (rehearsed on a simulated run): only the rewarded frames are mined,
    none labelled; `label` adds each reviewed episode to the mined label file."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        model, description = load_classifier(trained_model)
    episodes = write_run(tmp_path / 'run', model, make_frame, np.random.default_rng(11))
    mined = tmp_path / 'mined'
    assert main(['mine', '--run', str(tmp_path / 'run'), '--model', str(trained_model),
                 '--output', str(mined), '--without-simulation']) == 0
    review = yaml.safe_load((mined / 'needs_review.yaml').read_text())
    assert review == ['mined_0000', 'mined_0001']  # the rewarded ones, not the agreed failure
    assert 'label 2 episodes by hand first' in capsys.readouterr().out
    rewarded = model.predict(np.stack(episodes[1])[:, None]) >= description['threshold']
    assert main(['label', '--labels', str(mined), '--episode', 'mined_0001',
                 '--success-from-frame', 'none']) == 0
    assert main(['label', '--labels', str(mined), '--episode', 'mined_0000',
                 '--success-from-frame', '0']) == 0
    frames = load_labelled_frames(mined / 'labels.yaml')
    assert frames.episode_names == ['mined_0000', 'mined_0001']
    assert frames.labels.tolist() == [1] * (len(frames) - rewarded.sum()) + [0] * rewarded.sum()
    count = int(np.sum(frames.episode_index == frames.episode_names.index('mined_0000')))
    for cutoff, code in ((count - 1, 0), (count, 2), (99, 2)):  # frames 0..count-1
        assert main(['label', '--labels', str(mined), '--episode', 'mined_0000',
                     '--success-from-frame', str(cutoff)]) == code
    assert main(['label', '--labels', str(mined), '--episode', 'mined_0042',
                 '--success-from-frame', '1']) == 2
    assert 'no episode bag' in capsys.readouterr().err
