"""The classifier model: its trainable parts really train while the shared encoder stays
frozen, and a saved model only loads onto the encoder and preprocessing it was trained with."""
import json
import warnings

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from hilserl_learner.networks.encoder import load_backbone, save_backbone_weights
from reward_classifier.config import TrainingConfig
from reward_classifier.data.dataset import LabelledFrames
from reward_classifier.model import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    ModelMismatch,
    build_classifier,
    load_classifier,
    save_classifier,
)
from reward_classifier.training import train_classifier

pytestmark = pytest.mark.filterwarnings('ignore:NO PRETRAINED ENCODER WEIGHTS')


def _frames(make_frame, count=24, seed=0) -> LabelledFrames:
    rng = np.random.default_rng(seed)
    labels = (np.arange(count) % 3 == 0).astype(np.uint8)
    images = np.stack([make_frame(bool(label), rng) for label in labels])[:, None]  # one view
    return LabelledFrames(images, labels, np.zeros(count, int), np.arange(count), ['e'])


def test_training_changes_every_trainable_tensor_and_no_frozen_one(make_frame):
    model = build_classifier('', hidden_dim=32, spatial_features=4)
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    assert all(not p.requires_grad for p in model.backbone.parameters())
    config = TrainingConfig(epochs=2, batch_size=8, early_stopping_patience=5,
                            learning_rate=1e-2)   # augmentation on: encoder runs every batch
    train_classifier(model, _frames(make_frame), config, log=lambda line: None, progress=False)
    after = model.state_dict()
    frozen = [name for name in before if name.startswith('backbone.')]
    trainable = [name for name in before if not name.startswith('backbone.')]
    assert frozen and all(torch.equal(before[n], after[n]) for n in frozen)
    # Every trainable tensor moved, the spatial embeddings included (the anchor's bug).
    assert 'view_embeddings.0.kernel' in trainable
    unchanged = [n for n in trainable if torch.equal(before[n], after[n])]
    assert unchanged == []
    assert not model.backbone.training   # model.train() inside training kept the encoder frozen


def test_a_saved_model_predicts_the_same_after_loading(tmp_path, make_frame):
    model = build_classifier('', hidden_dim=32, spatial_features=4, seed=3)
    frames = _frames(make_frame, 6, seed=1)
    save_classifier(model, tmp_path, threshold=0.4, metrics={'validation_accuracy': 0.5})
    stored = load_file(str(tmp_path / WEIGHTS_FILE))
    assert not any(name.startswith('backbone.') for name in stored)  # the encoder is shared
    loaded, description = load_classifier(tmp_path, '')
    assert description['threshold'] == 0.4
    assert description['encoder_identity'] == model.encoder_identity
    assert np.allclose(loaded.predict(frames.images), model.predict(frames.images), atol=1e-6)


def test_a_model_trained_on_another_encoder_or_preprocessing_is_refused(tmp_path):
    model = build_classifier('', hidden_dim=32, spatial_features=4)
    save_classifier(model, tmp_path / 'model', threshold=0.5, metrics={})
    other_weights = tmp_path / 'other_resnet10.safetensors'
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        save_backbone_weights(load_backbone('', seed=1), str(other_weights))
    with pytest.raises(ModelMismatch, match=r'encoder mismatch: the model was trained on encoder '
                                            r"'resnet10.*@random-seed0.*other_resnet10"):
        load_classifier(tmp_path / 'model', str(other_weights))
    description = json.loads((tmp_path / 'model' / CONFIG_FILE).read_text())
    description['preprocessing_id'] = 'center_crop+resize_96'
    (tmp_path / 'model' / CONFIG_FILE).write_text(json.dumps(description))
    with pytest.raises(ModelMismatch, match="preprocessing mismatch: .*'center_crop\\+resize_96'"):
        load_classifier(tmp_path / 'model', '')
    with pytest.raises(ModelMismatch, match='does not exist'):
        load_classifier(tmp_path / 'nothing', '')
