"""Datasets: bags + label file give correctly labelled frames; the split is by frame, seeded,
stratified and reproducible; augmentation changes pixels but not shapes; bags with several
cameras give every view the classifier looks through, and a bag without one is named."""
import numpy as np
import pytest
import torch

from hilserl_common.bags import EpisodeBagWriter
from reward_classifier.data.augmentation import AugmentationConfig, augment
from reward_classifier.data.bags import MissingImageTopic
from reward_classifier.data.dataset import class_balance, load_labelled_frames, split_frames
from reward_classifier.data.labels import EpisodeLabels, write_labels


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


def write_two_view_episode(bag, frames: int, cameras=('wrist_camera', 'front_camera')):
    """The layout the actor records: every camera's processed image, the front camera at
    three times the wrist camera's rate (its frames lie between the wrist's)."""
    with EpisodeBagWriter(bag, namespace='so101', cameras=cameras) as writer:
        for i in range(frames):
            stamp = 1_000_000_000 + i * 100_000_000
            writer.write_image(stamp, np.full((128, 128, 3), i, np.uint8), 'wrist_camera')
            for k in range(3 if 'front_camera' in cameras else 0):
                writer.write_image(stamp + k * 33_000_000,
                                   np.full((128, 128, 3), 100 + 3 * i + k, np.uint8),
                                   'front_camera')


def test_every_view_the_classifier_needs_is_read_and_a_missing_one_is_named(tmp_path):
    write_two_view_episode(tmp_path / 'episode_0000', 4)
    write_two_view_episode(tmp_path / 'episode_0001', 3)
    write_labels(tmp_path / 'labels.yaml', [EpisodeLabels('episode_0000', 2),
                                            EpisodeLabels('episode_0001', None)])
    frames = load_labelled_frames(tmp_path, ['wrist_camera', 'front_camera'])
    assert frames.images.shape == (7, 2, 128, 128, 3)
    assert frames.labels.tolist() == [0, 0, 1, 1, 0, 0, 0]   # counted on the wrist frames
    # each wrist frame with the front camera's newest frame at its stamp
    assert frames.images[:4, 1, 0, 0, 0].tolist() == [100, 103, 106, 109]
    assert frames.images[:4, 0, 0, 0, 0].tolist() == [0, 1, 2, 3]
    wrist_only = load_labelled_frames(tmp_path, ['wrist_camera'])
    assert np.array_equal(wrist_only.images[:, 0], frames.images[:, 0])

    old = tmp_path / 'wrist_only'
    write_two_view_episode(old / 'episode_0000', 3, cameras=('wrist_camera',))
    write_labels(old / 'labels.yaml', [EpisodeLabels('episode_0000', None)])
    with pytest.raises(MissingImageTopic, match=r'wrist_only/episode_0000: no image topic '
                       r'front_camera/image_proc .*The classifier looks through front_camera'):
        load_labelled_frames(old, ['wrist_camera', 'front_camera'])
