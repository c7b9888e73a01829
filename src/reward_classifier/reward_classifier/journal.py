"""What the serving node scored, kept for hard-negative mining: every scored frame (all views),
its probability, the threshold it was judged by and its stamp, and in simulation the
simulation's own success at that moment (for labelling only; the reward never uses it). Chunks
are compressed .npz files written under a temporary name and renamed, so a crash never leaves
half a chunk; recording stops at `max_frames` so a long run cannot fill the disk.
"""
import os
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

UNKNOWN = -1  # sim_success of a frame without a simulation (the real arm)


class RewardJournal:
    def __init__(self, directory, max_frames: int, chunk_frames: int = 100):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_frames = max_frames
        self.chunk_frames = chunk_frames
        self.written = sum(len(np.load(p)['stamp_s']) for p in self.chunks())
        self._rows: List[tuple] = []

    def chunks(self) -> List[Path]:
        return sorted(self.directory.glob('chunk_*.npz'))

    @property
    def full(self) -> bool:
        return self.written + len(self._rows) >= self.max_frames

    def add(self, frames: np.ndarray, probability: float, stamp_s: float,
            sim_success: Optional[bool], threshold: float = np.nan) -> None:
        """One scored sample: frames V x H x W x 3 (the model's views, in order); `threshold`:
        what the node judged it by (NaN: the model's own)."""
        if self.full:
            return
        self._rows.append((frames, probability, stamp_s,
                           UNKNOWN if sim_success is None else int(sim_success), threshold))
        if len(self._rows) >= self.chunk_frames:
            self.flush()

    def flush(self) -> None:
        if not self._rows:
            return
        rows, self._rows = self._rows, []
        name = self.directory / f'chunk_{self.written:07d}'
        temporary = name.with_suffix('.tmp.npz')
        np.savez_compressed(temporary, frames=np.stack([r[0] for r in rows]),
                            probability=np.array([r[1] for r in rows], np.float32),
                            stamp_s=np.array([r[2] for r in rows], np.float64),
                            sim_success=np.array([r[3] for r in rows], np.int8),
                            threshold=np.array([r[4] for r in rows], np.float32))
        os.replace(temporary, name.with_suffix('.npz'))
        self.written += len(rows)


def read_journal(directory) -> Dict[str, np.ndarray]:
    """Every journaled sample in stamp order: frames (N, V, H, W, 3), probability, stamp_s,
    sim_success (1, 0 or UNKNOWN), threshold (NaN where not journaled: the model's own)."""
    chunks = sorted(Path(directory).glob('chunk_*.npz'))
    if not chunks:
        raise FileNotFoundError(f'no reward journal in {directory} (the reward classifier '
                                'writes one when its journal_dir is set)')
    parts = [dict(np.load(path)) for path in chunks]
    for part in parts:  # chunks of journals from before the threshold was kept
        part.setdefault('threshold', np.full(len(part['stamp_s']), np.nan, np.float32))
    columns = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    order = np.argsort(columns['stamp_s'], kind='stable')
    return {key: value[order] for key, value in columns.items()}


def in_episode(journal: Dict[str, np.ndarray], record: Dict) -> np.ndarray:
    """Which samples of `read_journal`'s columns were scored during the episode of `record`
    (an episode record with start_s and end_s on the same clock as the stamps)."""
    return (journal['stamp_s'] >= record['start_s']) & (journal['stamp_s'] <= record['end_s'])
