"""Results held on the client until they are written: a chunk as soon as every point this run
computes in it has finished, everything at least every ``interval`` seconds and when the run
ends (docs/architecture.md, "The store").

Writing a chunk costs about as much for one point as for all of its points, so results wait
for their chunk; the interval bounds what a killed client loses: the points finished since the
last write, which the next run computes again (a point written is never lost: a chunk is
replaced whole, and ``status`` last). Results leave memory once written.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

from framework.storage.chunking import chunk_of
from framework.contract.run_records import MemberResult
from framework.storage.schema import DEFAULT_FLUSH_INTERVAL
from framework.storage.store import Store

Item = TypeVar("Item")


class WriteBuffer(Generic[Item]):
    """Finished grid points, each with the ``Item`` its caller needs once it is written (the job).

    ``expected`` is how many points this run computes in each chunk; ``add`` and ``flush``
    return each point they wrote, as (item, result), in the order the results arrived.
    """

    def __init__(self, store: Store, expected: Mapping[tuple[int, ...], int], interval: float = DEFAULT_FLUSH_INTERVAL,
                 clock: Callable[[], float] = time.monotonic):
        self.store, self.interval, self.clock = store, interval, clock
        self.chunks = store.chunks
        self.waiting = dict(expected)  # chunk -> points of this run not yet finished
        self.held: dict[tuple[int, ...], list[tuple[int, Item, MemberResult]]] = {}  # by chunk, numbered
        self.arrived = 0  # points added so far: their numbers give the order of arrival
        self.last_flush = clock()

    def __len__(self) -> int:
        return sum(len(held) for held in self.held.values())

    def due_in(self) -> float:
        """Seconds until the interval asks for a flush (0: now)."""
        return max(0.0, self.last_flush + self.interval - self.clock()) if self.held else self.interval

    def add(self, item: Item, result: MemberResult) -> list[tuple[Item, MemberResult]]:
        """Hold a finished point; write its chunk if that completes it, or everything if the
        interval has passed. Returns the points written now."""
        chunk = chunk_of(result.index, self.chunks)
        self.held.setdefault(chunk, []).append((self.arrived, item, result))
        self.arrived += 1
        self.waiting[chunk] = self.waiting.get(chunk, 1) - 1
        if self.due_in() == 0:
            return self.flush()
        if self.waiting[chunk] <= 0:
            return self._write([chunk])
        return []

    def flush(self) -> list[tuple[Item, MemberResult]]:
        """Write everything held."""
        written = self._write(list(self.held))
        self.last_flush = self.clock()
        return written

    def _write(self, chunks: list[tuple[int, ...]]) -> list[tuple[Item, MemberResult]]:
        """Write the chunks' points; they leave the buffer only once written, so a write that
        raises leaves them for the next flush (writing a point twice writes the same values)."""
        held = sorted(entry for chunk in chunks for entry in self.held.get(chunk, []))
        if held:
            self.store.write(result for _, _, result in held)
        for chunk in chunks:
            self.held.pop(chunk, None)
        return [(item, result) for _, item, result in held]
