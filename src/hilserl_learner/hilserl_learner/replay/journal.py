"""An append-only, on-disk journal of every transition the learner stored, so a learner that is
killed loses no transitions: on resume the buffers are rebuilt from it.

Each `append` writes one chunk file (`chunk_<first index>_<rows>_<demo rows>.npz`,
uncompressed, written to a temporary name and renamed, so a kill never leaves half a chunk).
Chunks that both buffers have overwritten since are deleted. Each row keeps the episode it came
from and its actor, so the transitions of an episode can leave the journal (`remove_episodes`),
also from the command line, while the learner is stopped (README, "On the real arm", step 7):

    python -m hilserl_learner.replay.journal runs/real/learner/journal --remove-episodes 12 15
    python -m hilserl_learner.replay.journal ... --remove-episodes 12 --actor so101_b  # 2 arms
"""
import argparse
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

TO_DEMO = 'to_demo'  # per-row flag: the transition also went to the demo buffer (intervention)
# Per-row episode id as its actor numbered it, and that actor's id (several actors feeding one
# learner number their episodes each on their own). Not buffer fields: the buffers take only
# their own fields from a replayed chunk.
EPISODE = 'episode'
ACTOR = 'actor'


class AmbiguousEpisodes(ValueError):
    """Episode numbers that several actors used: which actor's is meant must be said."""


class TransitionJournal:
    def __init__(self, directory: str, online_capacity: int, demo_capacity: int):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.online_capacity = online_capacity
        self.demo_capacity = demo_capacity
        index = _chunk_index(self.directory, tidy=True)
        # Index of the next transition: total ever journaled (pruned chunks included).
        self.count = index[-1][3] + index[-1][1] if index else 0

    def append(self, columns: Dict[str, np.ndarray], to_demo: np.ndarray,
               episodes: Optional[np.ndarray] = None,
               actors: Optional[Sequence[str]] = None) -> None:
        """One chunk: the rows of `columns`, which of them went to the demo buffer and, when
        given, the episode id and the actor id of each."""
        rows = len(to_demo)
        if rows == 0:
            return
        extra = {TO_DEMO: to_demo}
        if episodes is not None:
            extra[EPISODE] = np.asarray(episodes, np.int64)
        if actors is not None:
            extra[ACTOR] = np.asarray(actors, dtype=str)
        _write_chunk(self.directory, self.count, {**columns, **extra})
        self.count += rows

    def replay(self) -> Iterator[Dict[str, np.ndarray]]:
        """Every surviving chunk, oldest first, as the columns that were appended (+ to_demo,
        + episode when it was given)."""
        for path, *_ in self._index():
            with np.load(path) as chunk:
                yield {name: chunk[name] for name in chunk.files}

    def actor_rows(self, since: int = 0) -> Counter:
        """Rows per actor id in the chunks journaled from row index `since` on."""
        rows: Counter = Counter()
        for path, _, _, first in self._index():
            if first >= since:
                with np.load(path) as chunk:
                    if ACTOR in chunk.files:
                        rows.update(chunk[ACTOR].tolist())
        return rows

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
        return _chunk_index(self.directory)


def remove_episodes(directory, episodes: Iterable[int],
                    actor: Optional[str] = None) -> Dict[str, int]:
    """Take every row of these episodes (of `actor`; None: of whichever actor journaled them,
    AmbiguousEpisodes when that is more than one) out of the journal in `directory` (the
    learner must not be running); the other rows stay as they were, in their order. Returns the
    rows removed and the rows that could not be told apart (journaled without episode ids, or
    without actor ids when `actor` is given, by an older learner: they stay). A learner that
    resumes afterwards rebuilds its buffers without them.

    Chunks keep their first index, so the indices of later chunks do not move; a chunk that
    loses every row is deleted."""
    directory, leaving_ids = Path(directory), np.fromiter(episodes, np.int64)
    if actor is None:
        _refuse_ambiguous(directory, leaving_ids)
    removed = unidentified = 0
    for path, rows, _, first in _chunk_index(directory, tidy=True):
        with np.load(path) as chunk:
            columns = {name: chunk[name] for name in chunk.files}
        if EPISODE not in columns:
            unidentified += rows
            continue
        leaving = np.isin(columns[EPISODE], leaving_ids)
        if actor is not None:
            if ACTOR not in columns:  # journaled before actor ids were: whose is unknown
                unidentified += rows
                continue
            leaving &= columns[ACTOR] == actor
        if not leaving.any():
            continue
        if not leaving.all():
            # Written before the old chunk goes: a kill in between leaves both, and the index
            # keeps the smaller (see _chunk_index).
            _write_chunk(directory, first, {k: v[~leaving] for k, v in columns.items()})
        path.unlink()
        removed += int(leaving.sum())
    return {'removed': removed, 'unidentified': unidentified}


def _refuse_ambiguous(directory: Path, episode_ids: np.ndarray) -> None:
    actors = set()
    for path, *_ in _chunk_index(directory):
        with np.load(path) as chunk:
            if ACTOR in chunk.files and EPISODE in chunk.files:
                actors.update(chunk[ACTOR][np.isin(chunk[EPISODE], episode_ids)].tolist())
    if len(actors) > 1:
        raise AmbiguousEpisodes(f'episodes {episode_ids.tolist()} were journaled by actors '
                                f'{sorted(actors)}: say whose (--actor)')


def removal_text(removed: Dict[str, int], episodes: Iterable[int]) -> str:
    """What `remove_episodes` did, in words."""
    return (f'{removed["removed"]} transitions of episodes {list(episodes)} left the learner\'s '
            'journal' + (f' ({removed["unidentified"]} journaled without episode ids stay)'
                         if removed['unidentified'] else ''))


def _write_chunk(directory: Path, first: int, columns: Dict[str, np.ndarray]) -> None:
    to_demo = columns[TO_DEMO]
    name = directory / f'chunk_{first:012d}_{len(to_demo):06d}_{int(to_demo.sum()):06d}'
    temporary = name.with_suffix('.tmp.npz')
    with open(temporary, 'wb') as stream:
        np.savez(stream, **columns)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(temporary, name.with_suffix('.npz'))


def episode_rows(directory) -> Counter:
    """Rows per (actor, episode) in the journal in `directory` (actor '' where a chunk has no
    actor ids), which a running learner may be writing: this only reads, and passes over a
    chunk pruned while it reads."""
    rows: Counter = Counter()
    for path, *_ in _chunk_index(Path(directory)):
        try:
            with np.load(path) as chunk:
                if EPISODE not in chunk.files:
                    continue
                episodes = chunk[EPISODE].tolist()
                actors = chunk[ACTOR].tolist() if ACTOR in chunk.files else [''] * len(episodes)
        except FileNotFoundError:
            continue
        rows.update(zip(actors, episodes))
    return rows


def _chunk_index(directory: Path, tidy: bool = False) -> List[Tuple[Path, int, int, int]]:
    """(path, rows, demo rows, first index) of every chunk, oldest first. Only the journal's
    one writer may `tidy` (delete what a kill left behind): to anyone else a temporary file
    may be a chunk being written."""
    chunks = []
    for path in sorted(directory.glob('chunk_*.npz')):
        if path.name.endswith('.tmp.npz'):  # being written, or a write that was interrupted
            if tidy:
                path.unlink()
            continue
        _, first, rows, demo_rows = path.stem.split('_')
        if chunks and chunks[-1][3] == int(first):
            # A removal killed between writing a chunk's rewrite and deleting the original:
            # the rewrite is the one with fewer rows (names sort by first index, then rows).
            if tidy:
                path.unlink()
            continue
        chunks.append((path, int(rows), int(demo_rows), int(first)))
    return chunks


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog='python -m hilserl_learner.replay.journal',
                                     description='Take the transitions of training episodes '
                                     'whose reward was wrong out of a stopped learner\'s journal.')
    parser.add_argument('journal', help='the learner\'s journal folder (<run>/learner/journal)')
    parser.add_argument('--remove-episodes', type=int, nargs='+', required=True,
                        metavar='EPISODE', help='episode numbers (as in episodes.jsonl)')
    parser.add_argument('--actor', help='whose episodes, when several actors fed the learner '
                        '(actor_id in the transitions: by default the robot namespace)')
    args = parser.parse_args(argv)
    if not Path(args.journal).is_dir():
        print(f'{parser.prog}: no journal at {args.journal}', file=sys.stderr)
        return 2
    try:
        result = remove_episodes(args.journal, args.remove_episodes, args.actor)
    except AmbiguousEpisodes as error:
        print(f'{parser.prog}: {error}', file=sys.stderr)
        return 2
    print(f'{args.journal}: {removal_text(result, args.remove_episodes)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
