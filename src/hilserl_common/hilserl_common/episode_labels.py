"""Success labels of recorded episodes, in the reward classifier's label-file format
(`episodes: {name: {success_from_frame: N | null}}`), so demonstrations and classifier datasets
are labelled the same way: what the actor's recorder writes, what a person sets with
`reward_classifier_cli label`, and which recordings the learner takes as demonstrations. The
file is rewritten whole (temporary file + rename): a crash never leaves half a label file."""
import os
from pathlib import Path
from typing import Dict, List, Optional

import yaml

HEADER = '# success_from_frame: first wrist frame (0-based) showing success; null: never\n'


def episode_labels(path) -> Dict[str, dict]:
    """Episode name -> label of a label file (or of a folder's labels.yaml); {} when there is
    none yet."""
    path = Path(path)
    path = path / 'labels.yaml' if path.is_dir() else path
    if not path.exists():
        return {}
    return (yaml.safe_load(path.read_text()) or {}).get('episodes') or {}


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
        found.extend(successful_episodes(folder) if (folder / 'labels.yaml').exists()
                     else [path])
    return found


def record_episode_label(path: Path, episode: str, success_from_frame: Optional[int]) -> None:
    """Set one episode's label, keeping the others (and the file's image_topic)."""
    path = Path(path)
    document = {}
    if path.exists():
        document = yaml.safe_load(path.read_text()) or {}
    episodes = document.setdefault('episodes', {})
    episodes[episode] = {'success_from_frame': success_from_frame}
    temporary = path.with_suffix('.yaml.tmp')
    temporary.write_text(HEADER + yaml.safe_dump(document, sort_keys=True))
    os.replace(temporary, path)
