"""How a store's grid is cut into chunks, and which chunk a grid point falls in.

A chunk holds many grid points (docs/architecture.md, "The store"): the file count and the
write cost then follow the numbers, not the points. The client is the store's only writer,
so a chunk shared by many points is safe (two writers on one chunk would lose data:
docs/stack-notes.md). Chunks cover the last grid dimensions whole first, the order in which
grid points are run (C order), so a chunk's points finish close together in time.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

TARGET_CHUNK_BYTES = 2 * 1024**2  # of the largest variable: about a megabyte or two per file


def grid_chunks(grid_shape: Sequence[int], point_bytes: int, target_bytes: int | None = None) -> tuple[int, ...]:
    """Chunk sizes along the grid dimensions holding about ``target_bytes`` (by default
    ``TARGET_CHUNK_BYTES``) of a variable whose values at one grid point take ``point_bytes``:
    the last dimensions whole, then part of the one before them, one index along the rest."""
    target = TARGET_CHUNK_BYTES if target_bytes is None else target_bytes
    room = max(1, target // max(1, point_bytes))
    chunks = []
    for size in reversed(grid_shape):
        take = max(1, min(size, room))
        chunks.append(take)
        room = room // size if take == size else 1
    return tuple(reversed(chunks))


def chunk_of(index: Sequence[int], chunks: Sequence[int]) -> tuple[int, ...]:
    """The chunk (its position in the grid of chunks) holding the grid point ``index``."""
    return tuple(i // c for i, c in zip(index, chunks))


def chunk_region(chunk: Sequence[int], chunks: Sequence[int], grid_shape: Sequence[int]) -> tuple[slice, ...]:
    """The grid indices a chunk covers, as slices (the chunks at the grid's far edges are smaller)."""
    return tuple(slice(c * size, min((c + 1) * size, extent)) for c, size, extent in zip(chunk, chunks, grid_shape))


def points_per_chunk(mask: np.ndarray, chunks: Sequence[int]) -> dict[tuple[int, ...], int]:
    """How many grid points where ``mask`` (grid-shaped, bool) is true each chunk holds."""
    if mask.ndim == 0:  # a pipeline without a grid: one point, one chunk
        return {(): 1} if bool(mask) else {}
    where = np.argwhere(mask)
    if not len(where):
        return {}
    found, counts = np.unique(where // np.asarray(chunks, dtype=np.int64), axis=0, return_counts=True)
    return {tuple(int(i) for i in chunk): int(count) for chunk, count in zip(found, counts)}
