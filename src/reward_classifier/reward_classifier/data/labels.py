"""The label file kept next to the recordings: which frames of which episode show success.

A label file (YAML or JSON) names episode bags relative to its own folder and, per episode,
either a frame cutoff (frame >= cutoff is success; null: the episode never succeeds) or a list of
inclusive success frame ranges. Example:

    image_topic: wrist_camera/image_proc   # optional; found automatically when absent
    episodes:
      episode_000: {success_from_frame: 37}
      episode_001: {success_from_frame: null}
      episode_002: {success_ranges: [[20, 31], [40, 55]]}

Frames are the messages of the image topic in time order, counted from 0.
"""
import dataclasses
import json
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import yaml

from hilserl_common.episode_labels import LABEL_FILE, label_document, label_file

LABEL_FILE_NAME = LABEL_FILE
_EPISODE_KEYS = ('success_from_frame', 'success_ranges')


class LabelError(ValueError):
    """A label file that cannot be used; the message names the file, episode and problem."""


@dataclasses.dataclass(frozen=True)
class EpisodeLabels:
    """Success labels of one episode: a cutoff, or inclusive ranges (exactly one is used)."""
    name: str
    success_from_frame: Optional[int] = None
    success_ranges: Optional[Tuple[Tuple[int, int], ...]] = None

    def frame_labels(self, num_frames: int) -> np.ndarray:
        """0/1 per frame; raises LabelError when the labels point past the episode's end."""
        labels = np.zeros(num_frames, dtype=np.uint8)
        if self.success_ranges is not None:
            for start, end in self.success_ranges:
                if end >= num_frames:
                    raise LabelError(f'episode {self.name}: success range [{start}, {end}] ends '
                                     f'past the last frame ({num_frames - 1})')
                labels[start:end + 1] = 1
        elif self.success_from_frame is not None:
            if self.success_from_frame > num_frames:
                raise LabelError(f'episode {self.name}: success_from_frame '
                                 f'{self.success_from_frame} is past the end of its '
                                 f'{num_frames} frames')
            labels[self.success_from_frame:] = 1
        return labels

    def to_dict(self) -> dict:
        if self.success_ranges is not None:
            return {'success_ranges': [list(r) for r in self.success_ranges]}
        return {'success_from_frame': self.success_from_frame}


@dataclasses.dataclass(frozen=True)
class LabelFile:
    """A parsed label file: its path, the image topic (or None) and the episodes in order."""
    path: Path
    episodes: Tuple[EpisodeLabels, ...]
    image_topic: Optional[str] = None

    def bag_path(self, episode: EpisodeLabels) -> Path:
        return self.path.parent / episode.name

    def episode(self, name: str) -> EpisodeLabels:
        for episode in self.episodes:
            if episode.name == name:
                return episode
        raise LabelError(f'{self.path}: no episode named {name!r}; known: '
                         f'{", ".join(e.name for e in self.episodes)}')


def load_labels(path) -> LabelFile:
    """Read (hilserl_common.episode_labels) and validate a label file (or a folder holding
    labels.yaml)."""
    path = label_file(path)
    try:
        document = label_document(path)
    except FileNotFoundError:
        raise LabelError(f'label file {path} does not exist') from None
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise LabelError(f'label file {path} cannot be parsed: {error}') from None
    return parse_labels(document, path)


def parse_labels(document, path: Path) -> LabelFile:
    if not isinstance(document, dict) or not isinstance(document.get('episodes'), dict):
        raise LabelError(f'{path}: expected a mapping with an "episodes:" mapping of episode '
                         f'bag names to labels')
    unknown = sorted(set(document) - {'episodes', 'image_topic'})
    if unknown:
        raise LabelError(f'{path}: unknown key(s) {", ".join(unknown)}; '
                         f'allowed: episodes, image_topic')
    topic = document.get('image_topic')
    if topic is not None and (not isinstance(topic, str) or not topic):
        raise LabelError(f'{path}: image_topic must be a topic name, got {topic!r}')
    episodes = tuple(_parse_episode(str(name), entry, path)
                     for name, entry in document['episodes'].items())
    if not episodes:
        raise LabelError(f'{path}: no episodes listed')
    return LabelFile(path=path, episodes=episodes, image_topic=topic)


def _parse_episode(name: str, entry, path: Path) -> EpisodeLabels:
    where = f'{path}: episode {name}'
    if not isinstance(entry, dict) or len(set(entry) & set(_EPISODE_KEYS)) != 1 \
            or set(entry) - set(_EPISODE_KEYS):
        raise LabelError(f'{where}: expected exactly one of {{success_from_frame: N or null}} '
                         f'or {{success_ranges: [[first, last], ...]}}, got {entry!r}')
    if 'success_from_frame' in entry:
        cutoff = entry['success_from_frame']
        if cutoff is not None and not _is_frame_index(cutoff):
            raise LabelError(f'{where}: success_from_frame = {cutoff!r}; expected a frame '
                             f'number >= 0 or null (never succeeds)')
        return EpisodeLabels(name=name, success_from_frame=cutoff)
    ranges = entry['success_ranges']
    if not isinstance(ranges, list):
        raise LabelError(f'{where}: success_ranges = {ranges!r}; expected a list of '
                         f'[first, last] frame pairs')
    parsed: List[Tuple[int, int]] = []
    for item in ranges:
        if not (isinstance(item, (list, tuple)) and len(item) == 2
                and all(_is_frame_index(v) for v in item) and item[0] <= item[1]):
            raise LabelError(f'{where}: success range {item!r}; expected [first, last] frame '
                             f'numbers with 0 <= first <= last')
        parsed.append((int(item[0]), int(item[1])))
    return EpisodeLabels(name=name, success_ranges=tuple(parsed))


def _is_frame_index(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def labels_from_success_flags(name: str, success: np.ndarray) -> EpisodeLabels:
    """Labels that reproduce per-frame success flags: a cutoff when success, once reached,
    holds to the end (the usual case and the easiest for a person to check), ranges otherwise."""
    success = np.asarray(success, dtype=bool)
    if not success.any():
        return EpisodeLabels(name=name, success_from_frame=None)
    first = int(np.argmax(success))
    if success[first:].all():
        return EpisodeLabels(name=name, success_from_frame=first)
    edges = np.diff(np.concatenate([[0], success.astype(np.int8), [0]]))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    return EpisodeLabels(name=name, success_ranges=tuple(
        (int(s), int(e)) for s, e in zip(starts, ends)))


def write_labels(path, episodes, image_topic: Optional[str] = None) -> Path:
    """Write a label file (YAML, or JSON when the name ends in .json)."""
    path = Path(path)
    document: Dict = {}
    if image_topic:
        document['image_topic'] = image_topic
    document['episodes'] = {e.name: e.to_dict() for e in episodes}
    if path.suffix == '.json':
        path.write_text(json.dumps(document, indent=2) + '\n')
    else:
        path.write_text(yaml.safe_dump(document, sort_keys=False, default_flow_style=None))
    return path
