"""An append-only, on-disk journal of every transition the learner stored, so a learner that is
killed loses no transitions: on resume the buffers are rebuilt from it.

Each `append` writes one chunk file (`chunk_<first index>.npz`, uncompressed, written to a
temporary name and renamed, so a kill never leaves half a chunk). Chunks that both buffers have
overwritten since are deleted.
"""
import os
from pathlib import Path
from typing import Dict, Iterator

import numpy as np

TO_DEMO = 'to_demo'  # per-row flag: the transition also went to the demo buffer (intervention)


class TransitionJournal:
    def __init__(self, directory: str, online_capacity: int, demo_capacity: int):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.online_capacity = online_capacity
        self.demo_capacity = demo_capacity
        index = self._index()
        # Index of the next transition: total ever journaled (pruned chunks included).
        self.count = index[-1][3] + index[-1][1] if index else 0

    def append(self, columns: Dict[str, np.ndarray], to_demo: np.ndarray) -> None:
        rows = len(to_demo)
        if rows == 0:
            return
        name = self.directory / f'chunk_{self.count:012d}_{rows:06d}_{int(to_demo.sum()):06d}'
        temporary = name.with_suffix('.tmp.npz')
        with open(temporary, 'wb') as stream:
            np.savez(stream, **columns, **{TO_DEMO: to_demo})
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, name.with_suffix('.npz'))
        self.count += rows

    def replay(self) -> Iterator[Dict[str, np.ndarray]]:
        """Every surviving chunk, oldest first, as the columns that were appended (+ to_demo)."""
        for path, *_ in self._index():
            with np.load(path) as chunk:
                yield {name: chunk[name] for name in chunk.files}

    def prune(self) -> int:
        """Delete chunks that neither buffer can still hold; returns how many."""
        index = self._index()
        online_after = demo_after = 0
        keep_from = 0
        for position in range(len(index) - 1, -1, -1):
            if online_after >= self.online_capacity and demo_after >= self.demo_capacity:
                keep_from = position + 1
                break
            online_after += index[position][1]
            demo_after += index[position][2]
        for path, *_ in index[:keep_from]:
            path.unlink()
        return keep_from

    def _index(self):
        chunks = []
        for path in sorted(self.directory.glob('chunk_*.npz')):
            if path.name.endswith('.tmp.npz'):
                path.unlink()  # a write that was interrupted
                continue
            _, first, rows, demo_rows = path.stem.split('_')
            chunks.append((path, int(rows), int(demo_rows), int(first)))
        return chunks
