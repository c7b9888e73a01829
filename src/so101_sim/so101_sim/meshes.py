"""Decimated copies of the SO-101 meshes, cached on disk (never in the repository).

The shipped STL meshes have ~320k triangles; rendering them costs ~40 ms per 128x128 frame on
this CPU. A few percent of the triangles look the same at wrist-camera resolution.
Quadric decimation (fast-simplification) stalls at ~25% on these CAD meshes (sharp features,
fan-triangulated faces), so its result is then vertex-clustered on a grid of a millimetre or
two, which removes screw holes and fillets that cover less than a pixel at 128x128.
The cache is keyed by the source file's content, the settings and the simplifier's version, so
a new model or setting never reads a stale mesh.
"""
import hashlib
import os
import warnings
from pathlib import Path
from typing import Tuple

import fast_simplification
import numpy as np

CACHE_ENV = 'SO101_HILSERL_CACHE'
_STL_HEADER_BYTES = 80
_STL_RECORD = np.dtype([('normal', '<f4', 3), ('vertices', '<f4', (3, 3)), ('attribute', '<u2')])


def cache_dir() -> Path:
    """$SO101_HILSERL_CACHE, else $XDG_CACHE_HOME/so101_hilserl, else ~/.cache/so101_hilserl."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get('XDG_CACHE_HOME') or Path.home() / '.cache'
    return Path(base) / 'so101_hilserl'


def read_binary_stl(path: Path) -> Tuple[np.ndarray, np.ndarray]:
    """(vertices (N, 3) float64, faces (M, 3) int64) of a binary STL, duplicates merged."""
    raw = path.read_bytes()
    count = int(np.frombuffer(raw, '<u4', 1, _STL_HEADER_BYTES)[0])
    expected = _STL_HEADER_BYTES + 4 + count * _STL_RECORD.itemsize
    if len(raw) != expected:
        raise ValueError(f'{path} is not a binary STL ({len(raw)} bytes, expected {expected})')
    records = np.frombuffer(raw, _STL_RECORD, count, _STL_HEADER_BYTES + 4)
    corners = records['vertices'].reshape(-1, 3).astype(np.float64)
    vertices, faces = np.unique(corners, axis=0, return_inverse=True)
    return vertices, faces.reshape(-1, 3).astype(np.int64)


def cluster_vertices(vertices: np.ndarray, faces: np.ndarray, cell_m: float
                     ) -> Tuple[np.ndarray, np.ndarray]:
    """Merge the vertices in each grid cell of `cell_m` into their mean; drop the triangles that
    collapse and the duplicates."""
    keys = np.floor(vertices / cell_m).astype(np.int64)
    _, cell_of = np.unique(keys, axis=0, return_inverse=True)
    cell_of = cell_of.reshape(-1)
    counts = np.bincount(cell_of)
    merged = np.stack([np.bincount(cell_of, vertices[:, k]) / counts for k in range(3)], axis=1)
    new_faces = cell_of[faces]
    keep = ((new_faces[:, 0] != new_faces[:, 1]) & (new_faces[:, 1] != new_faces[:, 2])
            & (new_faces[:, 0] != new_faces[:, 2]))
    new_faces = new_faces[keep]
    _, first = np.unique(np.sort(new_faces, axis=1), axis=0, return_index=True)
    return merged, new_faces[np.sort(first)]


def decimated_mesh(path: Path, keep_fraction: float, cluster_m: float = 0.0015
                   ) -> Tuple[np.ndarray, np.ndarray]:
    """The mesh at `path` with about `keep_fraction` of its triangles (quadric decimation)
    then clustered on a `cluster_m` grid (0: not clustered), from the cache if there."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    key = (f'{path.stem}-{digest}-keep{keep_fraction:.4f}-cell{cluster_m * 1000:.2f}mm'
           f'-fs{fast_simplification.__version__}')
    cached = cache_dir() / 'meshes' / f'{key}.npz'
    if cached.is_file():
        try:
            with np.load(cached) as stored:
                return stored['vertices'], stored['faces']
        except (OSError, ValueError, KeyError):
            pass  # a broken cache file is rebuilt below
    vertices, faces = read_binary_stl(path)
    if keep_fraction < 1.0:
        vertices, faces = fast_simplification.simplify(vertices, faces,
                                                       target_reduction=1.0 - keep_fraction)
    if cluster_m > 0:
        vertices, faces = cluster_vertices(vertices, faces, cluster_m)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f'.{os.getpid()}.tmp.npz')
        np.savez(partial, vertices=vertices, faces=faces)
        os.replace(partial, cached)  # atomic: concurrent processes never read half a file
    except OSError as error:  # a read-only home: decimate again next time, but run
        warnings.warn(f'cannot cache decimated meshes in {cached.parent} ({error}); set '
                      f'{CACHE_ENV} to a writable directory to start faster', stacklevel=2)
    return vertices, faces
