"""The sweep grid: axes, axes zipped together, and the grid points (jobs) they span.

Each ``grid`` key is an axis; the jobs are the cartesian product of the axes, except that the
axes of one ``zip`` group vary together (``zip: [[m, lr]]`` pairs the i-th m with the i-th lr).
A zip group is one dimension of the result, named after its first axis; the other axes of the
group become coordinates along it (docs/architecture.md, "The store").
"""
from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

Scalar = int | float | str | bool
MAX_REPLICAS = 10_000_000


@dataclass(frozen=True)
class Dimension:
    """One dimension of the grid: its name, the axes that vary along it, and their values."""

    name: str
    axes: tuple[str, ...]
    values: tuple[tuple[Scalar, ...], ...]  # values[i][j]: axis j at position i

    @property
    def size(self) -> int:
        return len(self.values)

    def coordinate(self, axis: str) -> list[Scalar]:
        """The values of one of this dimension's axes, in order."""
        j = self.axes.index(axis)
        return [row[j] for row in self.values]


@dataclass(frozen=True)
class GridPoint:
    """One job's place in the grid: its index along each dimension and the value of each axis."""

    index: tuple[int, ...]
    values: Mapping[str, Scalar]

    def label(self) -> str:
        """``m=256, seed=0``: how the point is named in messages and tables."""
        return ", ".join(f"{k}={v}" for k, v in self.values.items())


@dataclass(frozen=True)
class Grid:
    """The dimensions of a scan, in the order the file gives them."""

    dimensions: tuple[Dimension, ...]

    @property
    def axes(self) -> dict[str, Dimension]:
        """Each axis name with the dimension it varies along."""
        return {axis: dim for dim in self.dimensions for axis in dim.axes}

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(dim.size for dim in self.dimensions)

    @property
    def size(self) -> int:
        size = 1
        for dim in self.dimensions:
            size *= dim.size
        return size

    def points(self) -> Iterator[GridPoint]:
        """Every grid point, the last dimension varying fastest (C order, as the store's chunks)."""
        for index in itertools.product(*(range(dim.size) for dim in self.dimensions)):
            yield self.point_at(index)

    def point_at(self, index: tuple[int, ...]) -> GridPoint:
        """The grid point at one index along each dimension."""
        values: dict[str, Scalar] = {}
        for dim, i in zip(self.dimensions, index):
            values.update(zip(dim.axes, dim.values[i]))
        return GridPoint(index, values)


def axis_values(name: str, raw: Any, distinct: bool = True) -> list[Scalar]:
    """The values of one axis: a list of scalars, or for ``seed`` an integer N meaning 0..N-1.

    The values must be distinct unless ``distinct`` is false (an axis zipped to another one that
    labels the dimension: ``scale: [1, 1, 2]`` beside ``optimizer: [gd, sgd, minibatch]``).
    Raises ``ValueError`` saying what was expected.
    """
    if name == "seed" and isinstance(raw, int) and not isinstance(raw, bool):
        if not 1 <= raw <= MAX_REPLICAS:
            raise ValueError(f"{raw} replicas: an integer seed axis must be from 1 to {MAX_REPLICAS}")
        return list(range(raw))
    if not isinstance(raw, list):
        hint = " (only `seed` takes an integer N, meaning replicas 0..N-1)" if isinstance(raw, int) else ""
        raise ValueError(f"{raw!r} is not a list of values{hint}")
    if not raw:
        raise ValueError("an empty list: an axis needs at least one value")
    for value in raw:
        if not isinstance(value, (int, float, str, bool)):
            raise ValueError(f"{value!r} is not a number, a string or a boolean")
    booleans = [i for i, v in enumerate(raw) if isinstance(v, bool)]
    if booleans and any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw):
        raise ValueError(f"item [{booleans[0]}] is a boolean (true/false) among numbers, expected a number "
                         "(true is not 1); give numbers only, or booleans only")
    duplicates = sorted({repr(v) for v in raw if raw.count(v) > 1})
    if duplicates and distinct:
        raise ValueError(f"values repeat ({', '.join(duplicates)}): each value of an axis must be distinct")
    return list(raw)
