"""The jobs of a plan, made when asked for: a grid of 10^6 points is validated through its
distinct resolutions and holds no object per point.

A job depends on its grid point in two ways only. Through the axes its stages name — in a
``${grid.NAME}`` reference, or as a name in an expression (``0.05/m``) — which decide every
parameter; and through its replica (the ``seed`` axis), which seeds every stage
(``framework.engine.seeds.stage_seed``) and changes no parameter. So the plan resolves one
representative point per combination of the *named* dimensions (the others at their first
value), and a job is its representative's resolution with its own point and seeds.
"""
from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, overload

import numpy as np

from framework.configuration.grid import Grid, GridPoint
from framework.engine.seeds import stage_seed
from framework.planning.calls import Call, DiagnosticCall, Job, Training

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def named_axes(stages: Any, axes: Sequence[str]) -> frozenset[str]:
    """The grid axes a pipeline's stages name anywhere in their text (a superset of those any
    parameter can depend on: every word of every string is taken as a possible name)."""
    words: set[str] = set()

    def collect(value: Any) -> None:
        if isinstance(value, str):
            words.update(IDENTIFIER.findall(value))
        elif isinstance(value, Mapping):
            for key, item in value.items():
                collect(key)
                collect(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                collect(item)

    collect(stages)
    return frozenset(words & set(axes))


def named_dimensions(grid: Grid, named: frozenset[str]) -> tuple[int, ...]:
    """The positions of the grid dimensions along which some named axis varies."""
    return tuple(i for i, dim in enumerate(grid.dimensions) if set(dim.axes) & named)


def representatives(grid: Grid, dims: tuple[int, ...]) -> Iterator[tuple[tuple[int, ...], GridPoint, int]]:
    """One grid point per combination of the dimensions ``dims`` (the others at index 0): its
    key (the indices along ``dims``), the point, and how many grid points share its resolution."""
    shape = grid.shape
    shared = 1
    for i, size in enumerate(shape):
        if i not in dims:
            shared *= size
    for key in itertools.product(*(range(shape[i]) for i in dims)):
        index = [0] * len(shape)
        for i, at in zip(dims, key):
            index[i] = at
        yield key, grid.point_at(tuple(index)), shared


def job_at(template: Job, point: GridPoint, root: int) -> Job:
    """The job of ``point`` from the resolution of its representative: the same parameters,
    the point's own seeds (one per stage: the diagnostics of a stage share theirs)."""
    replica = point.values.get("seed", 0)
    seeds: dict[str, int] = {}

    def reseeded(call: Call) -> Call:
        if call.stage not in seeds:
            seeds[call.stage] = stage_seed(root, call.stage, replica)
        return Call(call.stage, call.kind, call.name, call.component, call.params, seeds[call.stage])

    trainings = tuple(Training(reseeded(t.call), tuple(DiagnosticCall(reseeded(d.call), d.steps) for d in t.diagnostics))
                      for t in template.trainings)
    return Job(point, reseeded(template.data), reseeded(template.init), trainings, template.shape, template.model)


class Jobs(Sequence[Job]):
    """Every job of a plan, in grid order (the last dimension fastest), made on access.

    ``templates`` maps each combination of the named dimensions (``dims``) to the job its
    representative point resolved to; ``distinct()`` gives them, for whatever is the same
    for every point of one combination (shapes, parameters, schedules)."""

    def __init__(self, grid: Grid, root: int, dims: tuple[int, ...], templates: Mapping[tuple[int, ...], Job]):
        self.grid, self.root, self.dims = grid, root, dims
        self.templates = dict(templates)
        self.shape = grid.shape

    def __len__(self) -> int:
        return self.grid.size if self.grid.dimensions else 1

    def distinct(self) -> list[Job]:
        """The distinct resolutions, one job each (its representative's)."""
        return list(self.templates.values())

    def at(self, index: tuple[int, ...]) -> Job:
        """The job at a grid index."""
        point = self.grid.point_at(tuple(int(i) for i in index)) if self.grid.dimensions else GridPoint((), {})
        return job_at(self.templates[tuple(point.index[i] for i in self.dims)], point, self.root)

    @overload
    def __getitem__(self, position: int) -> Job: ...

    @overload
    def __getitem__(self, position: slice) -> list[Job]: ...

    def __getitem__(self, position: int | slice) -> Job | list[Job]:
        if isinstance(position, slice):
            return [self[i] for i in range(*position.indices(len(self)))]
        if not -len(self) <= position < len(self):
            raise IndexError(f"job {position} of {len(self)}")
        position %= len(self)
        index, rest = [], position
        for size in reversed(self.shape):
            rest, at = divmod(rest, size)
            index.append(at)
        return self.at(tuple(reversed(index)))

    def __iter__(self) -> Iterator[Job]:
        if not self.grid.dimensions:
            yield self.at(())
            return
        for index in itertools.product(*(range(size) for size in self.shape)):
            yield self.at(index)

    def per_point(self) -> tuple[np.ndarray, np.ndarray]:
        """For every grid point in grid order: the number of its resolution (in ``distinct()``'s
        order) and of its replica (its ``seed`` value among the axis's values; 0 without one)."""
        if not self.grid.dimensions:
            return np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64)
        shape = self.shape
        ordinal = np.full(tuple(shape[i] for i in self.dims), -1, dtype=np.int64)
        for number, key in enumerate(self.templates):
            ordinal[key] = number
        spread = tuple(size if i in self.dims else 1 for i, size in enumerate(shape))
        template = np.broadcast_to(ordinal.reshape(spread), shape).ravel()
        replica = np.zeros(len(self), dtype=np.int64)
        for i, dim in enumerate(self.grid.dimensions):
            if "seed" in dim.axes:
                values = np.asarray(dim.coordinate("seed"))
                _, codes = np.unique(values if values.dtype.kind in "iuf" else values.astype(str), return_inverse=True)
                along = tuple(size if j == i else 1 for j, size in enumerate(shape))
                replica = np.broadcast_to(codes.reshape(along), shape).ravel()
        return template, replica

    @functools.cached_property
    def sharing(self) -> dict[str, tuple[int, int]]:
        """For each data, initialization and training stage: (distinct computations, jobs using it).

        A computation is identified by its call (its seed included: the replica's) and by what
        it consumes: the weights also depend on the data's d_x and d, a training on the data
        and the weights."""
        template, replica = self.per_point()
        replicas = int(replica.max()) + 1
        keys: dict[str, list[tuple]] = {}
        for job in self.templates.values():
            data = job.data.key()[:3]
            init = (job.init.key()[:3], (job.shape.d_x, job.shape.d))
            keys.setdefault(job.data.stage, []).append(data)
            keys.setdefault(job.init.stage, []).append(init)
            for training in job.trainings:
                keys.setdefault(training.call.stage, []).append((training.call.key()[:3], data, init))
        out = {}
        for stage, per_template in keys.items():
            numbers: dict[tuple, int] = {}
            ids = np.asarray([numbers.setdefault(key, len(numbers)) for key in per_template], dtype=np.int64)
            out[stage] = (_distinct(ids[template] * replicas + replica), len(self))
        return out


def _distinct(values: np.ndarray) -> int:
    """How many distinct values an integer array holds (by sorting: faster than hashing here)."""
    ordered = np.sort(values)
    return int(1 + np.count_nonzero(ordered[1:] != ordered[:-1])) if len(ordered) else 0
