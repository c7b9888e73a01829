"""Labelled frames of a whole dataset (label file + its bags) and the frame-based split.

With several camera views, the label file's frames are those of the first view; each other view
contributes its newest frame at the first view's stamp (cameras are not synchronised)."""
import dataclasses
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np

from reward_classifier.data.bags import MissingImageTopic, read_episode_frames
from reward_classifier.data.labels import LabelError, LabelFile, load_labels


@dataclasses.dataclass
class LabelledFrames:
    """Every labelled frame of a dataset; row i of each array describes frame i."""
    images: np.ndarray          # N x V x 128 x 128 x 3 uint8 RGB (V views, shared preprocessing)
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


def load_labelled_frames(label_path, views: Sequence[str] = ('wrist_camera',)
                         ) -> LabelledFrames:
    """Read every episode of a label file from its bags (each view's image_proc topic) and
    label each frame."""
    label_file: LabelFile = load_labels(label_path)
    images, labels, episodes, frames = [], [], [], []
    for number, episode in enumerate(label_file.episodes):
        bag = label_file.bag_path(episode)
        episode_images = _episode_views(bag, label_file, views)
        count = len(episode_images)
        try:
            labels.append(episode.frame_labels(count))
        except LabelError as error:
            raise LabelError(f'{label_file.path}: {error}') from None
        images.append(episode_images)
        episodes.append(np.full(count, number))
        frames.append(np.arange(count))
    return LabelledFrames(np.concatenate(images), np.concatenate(labels),
                          np.concatenate(episodes), np.concatenate(frames),
                          [e.name for e in label_file.episodes])


def load_datasets(label_paths: Sequence, views: Sequence[str] = ('wrist_camera',)
                  ) -> LabelledFrames:
    """Several label files (e.g. a dataset and the frames mined from a run) as one."""
    parts = [load_labelled_frames(path, views) for path in label_paths]
    offsets = np.cumsum([0] + [len(p.episode_names) for p in parts[:-1]])
    names = [f'{Path(path).parent.name}/{name}' if len(parts) > 1 else name
             for path, part in zip(label_paths, parts) for name in part.episode_names]
    return LabelledFrames(np.concatenate([p.images for p in parts]),
                          np.concatenate([p.labels for p in parts]),
                          np.concatenate([p.episode_index + o for p, o in zip(parts, offsets)]),
                          np.concatenate([p.frame_index for p in parts]), names)


def _episode_views(bag, label_file: LabelFile, views: Sequence[str]) -> np.ndarray:
    """N x V frames of one episode: the first view's, and the others' newest at its stamps."""
    first = _view_frames(bag, label_file, views[0])
    stacked = [first.images]
    for view in views[1:]:
        other = _view_frames(bag, label_file, view)
        newest = np.searchsorted(other.stamps_ns, first.stamps_ns, side='right') - 1
        stacked.append(other.images[np.clip(newest, 0, len(other.images) - 1)])
    return np.stack(stacked, axis=1)


def _view_frames(bag, label_file: LabelFile, view: str):
    """One view's frames; a bag without that camera is named with the view it lacks."""
    try:
        return read_episode_frames(bag, view_topic(label_file, view), view)
    except MissingImageTopic as error:
        raise MissingImageTopic(f'{error}. The classifier looks through {view}: record with '
                                f'that camera (the actor records every camera of its graph) '
                                f'or leave it out of views') from None


def view_topic(label_file: LabelFile, view: str) -> Optional[str]:
    """The label file's image topic when it is this camera's; None: the camera's own topics
    (processed, else the full frame), matched with any namespace."""
    topic = label_file.image_topic or ''
    parts = topic.strip('/').split('/')
    if len(parts) >= 2 and view in parts[-3:-1]:
        return topic
    return None


def split_frames(labels: np.ndarray, validation_fraction: float,
                 seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """Seeded frame-based split (by frame, not by episode, as the classifiers that worked on the
    SO-101 were trained), stratified so both
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
