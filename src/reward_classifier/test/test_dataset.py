"""Datasets: bags + label file give correctly labelled frames; the split is by frame, seeded,
stratified and reproducible; augmentation changes pixels but not shapes."""
import numpy as np
import torch

from reward_classifier.data.augmentation import AugmentationConfig, augment
from reward_classifier.data.dataset import class_balance, load_labelled_frames, split_frames


def test_frames_are_labelled_from_the_cutoffs(synthetic_dataset, synthetic_episodes):
    frames = load_labelled_frames(synthetic_dataset)
    assert frames.images.shape == (96, 1, 128, 128, 3)  # one view: the wrist camera
    assert frames.episode_names == list(synthetic_episodes)
    for number, (count, cutoff) in enumerate(synthetic_episodes.values()):
        rows = frames.episode_index == number
        assert frames.frame_index[rows].tolist() == list(range(count))
        expected = [int(cutoff is not None and f >= cutoff) for f in range(count)]
        assert frames.labels[rows].tolist() == expected
    assert class_balance(frames.labels) == '96 frames: 38 success (39.6%), 58 failure'


def test_the_split_is_by_frame_seeded_and_stratified():
    labels = np.array([0] * 70 + [1] * 30)
    episode = np.repeat(np.arange(10), 10)
    train, validation = split_frames(labels, 0.2, seed=7)
    assert sorted(np.concatenate([train, validation]).tolist()) == list(range(100))
    assert not set(train) & set(validation)
    assert (labels[validation] == 1).sum() == 6 and (labels[validation] == 0).sum() == 14
    # By frame: most episodes have frames on both sides of the split.
    shared = set(episode[train]) & set(episode[validation])
    assert len(shared) >= 5
    again_train, again_validation = split_frames(labels, 0.2, seed=7)
    assert np.array_equal(train, again_train) and np.array_equal(validation, again_validation)
    _, other_validation = split_frames(labels, 0.2, seed=8)
    assert not np.array_equal(validation, other_validation)


def test_a_class_with_few_frames_still_appears_on_both_sides():
    labels = np.array([0] * 50 + [1] * 2)
    train, validation = split_frames(labels, 0.1, seed=0)
    assert labels[train].sum() == 1 and labels[validation].sum() == 1


def test_augmentation_jitters_colours_and_shifts_each_frame_differently():
    images = torch.rand(8, 3, 128, 128)
    generator = torch.Generator().manual_seed(0)
    out = augment(images, AugmentationConfig(0.3, 0.3, 0.3, 4), generator)
    assert out.shape == images.shape and out.min() >= 0 and out.max() <= 1
    assert not torch.allclose(out, images)
    changes = (out - images).abs().mean(dim=(1, 2, 3))
    assert changes.unique().numel() == 8
    none = AugmentationConfig(0, 0, 0, 0)
    assert not none.enabled
    assert torch.equal(augment(images, none, generator), images)
