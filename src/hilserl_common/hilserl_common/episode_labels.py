"""Success labels of recorded episodes, in the reward classifier's label-file format
(`episodes: {name: {success_from_frame: N | null}}`), so demonstrations and classifier datasets
are labelled the same way: what the actor's recorder writes, what a person sets with
`reward_classifier_cli label`, and which recordings the learner takes as demonstrations. The
file is rewritten whole (temporary file + rename): a crash never leaves half a label file.

The one reader of label files (labels.yaml, or a .json one) and of a mined dataset's list of
episodes waiting for a person's labels (needs_review.yaml); the reward classifier validates a
label file's document into its dataset's labels (reward_classifier.data.labels)."""
import json
import os
from pathlib import Path
from typing import Dict, List, Optional

import yaml

LABEL_FILE = 'labels.yaml'
NEEDS_REVIEW_FILE = 'needs_review.yaml'
HEADER = '# success_from_frame: first wrist frame (0-based) showing success; null: never\n'


def label_file(path) -> Path:
    """The label file of a folder of recordings, or the file itself."""
    path = Path(path)
    return path / LABEL_FILE if path.is_dir() else path


def label_document(path) -> dict:
    """The parsed document of a label file (YAML, or JSON by its name), {} for an empty one.
    FileNotFoundError when there is none; yaml.YAMLError or json.JSONDecodeError when it does
    not parse."""
    path = label_file(path)
    text = path.read_text()
    return (json.loads(text) if path.suffix == '.json' else yaml.safe_load(text)) or {}


def episode_labels(path) -> Dict[str, dict]:
    """Episode name -> label of a label file (or of a folder's labels.yaml); {} when there is
    none yet."""
    path = label_file(path)
    if not path.exists():
        return {}
    return label_document(path).get('episodes') or {}


def successful_episodes(directory) -> List[str]:
    """The episode folders in `directory` whose label says they reached success (the
    demonstrations worth learning from), sorted."""
    return sorted(str(Path(directory) / name) for name, label in episode_labels(directory).items()
                  if (label or {}).get('success_from_frame') is not None)


def demo_recordings(paths: List[str]) -> List[str]:
    """Episode bags of demonstrations: a folder of recordings with its labels.yaml stands for
    its successful episodes (a recording holds failures on purpose too); others are bags."""
    found = []
    for path in paths:
        folder = Path(path)
        found.extend(successful_episodes(folder) if (folder / LABEL_FILE).exists()
                     else [path])
    return found


def record_episode_label(path: Path, episode: str, success_from_frame: Optional[int]) -> None:
    """Set one episode's label, keeping the others (and the file's image_topic)."""
    path = Path(path)
    document = label_document(path) if path.exists() else {}
    episodes = document.setdefault('episodes', {})
    episodes[episode] = {'success_from_frame': success_from_frame}
    temporary = path.with_suffix('.yaml.tmp')
    temporary.write_text(HEADER + yaml.safe_dump(document, sort_keys=True))
    os.replace(temporary, path)


def write_needs_review(folder, episodes: List[str]) -> None:
    """List the episodes of a mined dataset that wait for a person's labels (none: no file)."""
    path = Path(folder) / NEEDS_REVIEW_FILE
    if not episodes:
        return
    path.write_text(
        '# Mined episodes without labels (no simulation to label them): look at each\n'
        '# <episode>_contact_sheet.png and add the episode to labels.yaml with its\n'
        '# success_from_frame (null: never a success) or success_ranges.\n'
        + ''.join(f'- {name}\n' for name in episodes))


def needs_review(folder) -> List[str]:
    """The episodes of a mined dataset that wait for a person's labels ([] when none do)."""
    path = Path(folder) / NEEDS_REVIEW_FILE
    return list(yaml.safe_load(path.read_text()) or []) if path.exists() else []
