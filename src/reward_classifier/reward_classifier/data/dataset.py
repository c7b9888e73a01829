"""Labelled frames of a whole dataset (label file + its bags) and the frame-based split."""
import dataclasses
from typing import List, Tuple

import numpy as np

from reward_classifier.data.bags import read_episode_frames
from reward_classifier.data.labels import LabelError, LabelFile, load_labels


@dataclasses.dataclass
class LabelledFrames:
    """Every labelled frame of a dataset; row i of each array describes frame i."""
    images: np.ndarray          # N x 128 x 128 x 3 uint8 RGB (shared preprocessing)
    labels: np.ndarray          # N uint8, 1 = success
    episode_index: np.ndarray   # N int, index into episode_names
    frame_index: np.ndarray     # N int, frame number within its episode
    episode_names: List[str]

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices: np.ndarray) -> 'LabelledFrames':
        return LabelledFrames(self.images[indices], self.labels[indices],
                              self.episode_index[indices], self.frame_index[indices],
                              self.episode_names)

    def describe(self, index: int) -> str:
        return f'{self.episode_names[self.episode_index[index]]}#{self.frame_index[index]}'


def load_labelled_frames(label_path) -> LabelledFrames:
    """Read every episode of a label file from its bags and label each frame."""
    label_file: LabelFile = load_labels(label_path)
    images, labels, episodes, frames = [], [], [], []
    for number, episode in enumerate(label_file.episodes):
        bag = label_file.bag_path(episode)
        episode_frames = read_episode_frames(bag, label_file.image_topic)
        count = len(episode_frames.images)
        try:
            labels.append(episode.frame_labels(count))
        except LabelError as error:
            raise LabelError(f'{label_file.path}: {error}') from None
        images.append(episode_frames.images)
        episodes.append(np.full(count, number))
        frames.append(np.arange(count))
    return LabelledFrames(np.concatenate(images), np.concatenate(labels),
                          np.concatenate(episodes), np.concatenate(frames),
                          [e.name for e in label_file.episodes])


def split_frames(labels: np.ndarray, validation_fraction: float,
                 seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """Seeded frame-based split (LESSONS.md: split by frame, not by episode), stratified so both
    classes keep their share in validation. Returns sorted (train, validation) indices."""
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f'validation_fraction = {validation_fraction}; expected (0, 1)')
    rng = np.random.default_rng(seed)
    train, validation = [], []
    for label in (0, 1):
        members = rng.permutation(np.flatnonzero(labels == label))
        count = int(round(len(members) * validation_fraction))
        if len(members) >= 2:
            count = min(max(count, 1), len(members) - 1)
        validation.append(members[:count])
        train.append(members[count:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(validation))


def class_balance(labels: np.ndarray) -> str:
    """'N frames: P success (x%), F failure' for reports."""
    total = len(labels)
    positive = int(np.sum(labels == 1))
    share = 100.0 * positive / total if total else 0.0
    return f'{total} frames: {positive} success ({share:.1f}%), {total - positive} failure'
