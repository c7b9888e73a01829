"""Pretraining the ResNet-10 on labelled frames: it learns what the labels say is in the image
(a red square's position and whether it is there), and its weights load like any others."""
import numpy as np
import pytest
import torch

from hilserl_learner.networks.encoder import load_backbone, save_backbone_weights
from hilserl_learner.networks.pretraining import LabelHead, evaluate, pretrain_backbone


def squares(count, rng):
    """Frames with a red square at a random place (or none): labels x, y, present."""
    images = np.full((count, 128, 128, 3), 90, np.uint8)
    labels = np.zeros((count, 3), np.float32)
    for image, label in zip(images, labels):
        if rng.random() < 0.8:
            x, y = rng.integers(8, 112, 2)
            image[y - 8:y + 8, x - 8:x + 8] = (220, 20, 20)
            label[:] = (x - 64) / 64, (y - 64) / 64, 1.0
    return images, labels


def test_pretraining_learns_where_the_square_is_and_saves_loadable_weights(tmp_path):
    rng = np.random.default_rng(0)
    images, labels = squares(96, rng)
    flags = [False, False, True]
    report = {}
    torch.set_num_threads(2)
    backbone = pretrain_backbone(images, labels, flags, epochs=5, batch_size=16,
                                 validation_fraction=0.2, report=report, log=lambda _: None)
    assert not any(p.requires_grad for p in backbone.parameters())  # frozen again
    error = float(report['held_out'].split('value error ')[1].split(',')[0])
    # an untrained network's head cannot do better than predicting the mean: ~0.5 here
    assert error < 0.3, report
    path = tmp_path / 'trained.safetensors'
    save_backbone_weights(backbone, str(path))
    loaded = load_backbone(str(path))
    x = torch.from_numpy(images[:4])
    assert torch.allclose(loaded(x), backbone(x), atol=1e-4)
    assert 'file:trained.safetensors' in loaded.identity


def test_a_random_backbone_with_a_trained_head_only_is_worse(tmp_path):
    """The check the test above relies on: the frames do carry the labels, and what the
    trained backbone adds is measured against a random one's features."""
    rng = np.random.default_rng(1)
    images, labels = squares(64, rng)
    flags = torch.tensor([False, False, True])
    with pytest.warns(UserWarning):
        random = load_backbone('')
    head = LabelHead(random.feature_shape, 3)
    untrained = evaluate(random, head, images, labels, flags)
    assert float(untrained.split('value error ')[1].split(',')[0]) > 0.3
