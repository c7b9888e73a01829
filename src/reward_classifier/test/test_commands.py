"""The command line: a model trained on a small generated dataset separates its two visually
distinct classes; evaluate and contact-sheet write their reports; mistakes get a message and
exit code 2, not a traceback."""
import json

import cv2
import numpy as np
import pytest

from reward_classifier.cli import main
from reward_classifier.contact_sheet import FAILURE_COLOUR, SUCCESS_COLOUR

pytestmark = pytest.mark.filterwarnings('ignore:NO PRETRAINED ENCODER WEIGHTS')


def test_a_trained_model_separates_the_two_classes(trained_model, synthetic_dataset, tmp_path,
                                                   capsys):
    description = json.loads((trained_model / 'reward_classifier.json').read_text())
    assert description['metrics']['validation']['frames'] == 20
    assert description['metrics']['validation_accuracy'] >= 0.95
    assert description['trained_on']['frames'] == 96
    assert len(description['history']) >= 1

    code = main(['evaluate', '--model', str(trained_model), '--labels', str(synthetic_dataset),
                 '--output', str(tmp_path), '--frames', 'validation'])
    assert code == 0
    report = json.loads((tmp_path / 'metrics.json').read_text())
    assert report['metrics']['frames'] == 20          # the model's own split, reproduced
    assert report['metrics']['accuracy'] >= 0.95
    matrix = report['metrics']['confusion_matrix']
    assert matrix['true_positives'] + matrix['false_negatives'] == 8
    assert cv2.imread(str(tmp_path / 'precision_recall.png')) is not None
    assert 'confusion matrix' in capsys.readouterr().out


def test_evaluate_can_store_its_suggested_threshold(trained_model, synthetic_dataset, tmp_path):
    import shutil
    model = tmp_path / 'model'
    shutil.copytree(trained_model, model)
    code = main(['evaluate', '--model', str(model), '--labels', str(synthetic_dataset),
                 '--output', str(tmp_path), '--min-recall', '1.0', '--save-threshold'])
    assert code == 0
    suggested = json.loads((tmp_path / 'metrics.json').read_text())['suggested_threshold']
    assert suggested['recall'] == 1.0
    stored = json.loads((model / 'reward_classifier.json').read_text())['threshold']
    assert stored == suggested['threshold'] != 0.5


def test_evaluate_shows_the_worst_false_positives(trained_model, synthetic_dataset, tmp_path):
    # At threshold 0 every labelled failure is a false positive: the sheet shows the worst 6.
    code = main(['evaluate', '--model', str(trained_model), '--labels', str(synthetic_dataset),
                 '--output', str(tmp_path), '--threshold', '0', '--worst', '6'])
    assert code == 0
    report = json.loads((tmp_path / 'metrics.json').read_text())
    worst = report['worst_false_positives']
    assert len(worst) == 6
    probabilities = [w['probability'] for w in worst]
    assert probabilities == sorted(probabilities, reverse=True)
    sheet = cv2.imread(str(tmp_path / 'false_positives.png'))
    assert sheet is not None and sheet.shape[1] == 6 * 134


def test_contact_sheet_shows_the_frames_around_the_cutoff(synthetic_dataset, tmp_path):
    output = tmp_path / 'sheet.png'
    code = main(['contact-sheet', '--labels', str(synthetic_dataset), '--episode', 'episode_000',
                 '--radius', '3', '--columns', '4', '--output', str(output)])
    assert code == 0
    sheet = cv2.cvtColor(cv2.imread(str(output)), cv2.COLOR_BGR2RGB)
    # Frames 6..12 around the cutoff 9: two rows of four 134 px tiles under a title.
    assert sheet.shape == (26 + 2 * (128 + 6 + 18), 4 * 134, 3)
    border = [tuple(int(c) for c in sheet[26 + 1, column * 134 + 1]) for column in range(4)]
    assert border == [FAILURE_COLOUR] * 3 + [SUCCESS_COLOUR]   # frames 6, 7, 8 fail; 9 succeeds


@pytest.mark.parametrize('argv, message', [
    (['train', '--labels', 'LABELS', '--set', 'epoch=3'], r"unknown parameter\(s\) epoch"),
    (['train', '--labels', 'LABELS', '--set', 'dropout=2'], "'dropout' = 2.0 is not allowed"),
    (['contact-sheet', '--labels', 'LABELS', '--episode', 'episode_999'],
     "no episode named 'episode_999'"),
    (['contact-sheet', '--labels', 'LABELS', '--episode', 'episode_000', '--around', '99'],
     'episode episode_000 has frames 0..15'),
    (['evaluate', '--model', 'MISSING', '--labels', 'LABELS'], 'does not exist'),
])
def test_mistakes_are_reported_without_a_traceback(argv, message, synthetic_dataset, tmp_path,
                                                   capsys):
    argv = [str(synthetic_dataset) if a == 'LABELS' else str(tmp_path / 'm') if a == 'MISSING'
            else a for a in argv]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert 'Traceback' not in error
    assert np.any([message in error]) or __import__('re').search(message, error), error
