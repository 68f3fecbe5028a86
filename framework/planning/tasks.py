"""Grouping grid points into tasks: jobs of one shape run together as one ensemble (docs/architecture.md, "Ensembles").

Jobs share a task when everything but per-member numbers agrees: the tensor shapes (n, L,
d_x, d from the data, m from the initializer), the optimizer and its parameters other than the
learning rate, and the diagnostics with their parameters and schedules. Seeds, learning rates,
the data's other parameters (δ, norms, scales) and the initializer may differ per member. The
number of members per task is bounded by ``max_ensemble``, by a memory estimate, and so that a
scan keeps every worker busy.

Exactness: a member must compute bit for bit what it computes alone. BLAS kernels round
differently when a matrix starts at an address of another alignment, and a member's blocks
start at multiples of their size; so members share tasks only with every per-member block a
whole number of 64-byte lines: n and m multiples of 64 bytes / itemsize (8 in float64, 16 in
float32). Other shapes are padded to that with zero sequences and zero neurons, which add
exactly nothing (``framework.engine.padding``), alone and in an ensemble alike; only a job
whose optimizer would move the padding (``Optimizer.keeps_padding_zero``) runs one per task.

``Packing`` is the one place that says how many members a task holds, how they are padded and
what a member costs. Tasks are then sent to the workers in *batches* (``batch_tasks``): one Dask task runs several
tasks one after another, so that a scan of many tiny points costs the scheduler one task per
second or so of work rather than one per point.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import torch

from framework.engine.devices import resolve_dtype
from framework.engine.padding import Padding
from framework.engine.tensors import aligned_rows
from framework.planning.calls import Job

DEFAULT_MAX_ENSEMBLE = 64
DEFAULT_TASK_BYTES = 2 * 1024**3


WINDOW = 4096  # pending jobs grouped at a time: the client never holds all of a large scan's jobs


def padding_of(job: Job, dtype: str | torch.dtype) -> Padding:
    """How the job's network is padded (the same whichever task it is in): to aligned n and m
    unless one of its optimizers does not keep padding at zero."""
    keeps = all(training.call.component().keeps_padding_zero for training in job.trainings)
    s = job.shape
    return Padding.aligning(s.n, s.m, resolve_dtype(dtype)) if keeps else Padding.none(s.n, s.m)


def task_key(job: Job) -> tuple:
    """Jobs with equal keys can share one ensemble."""
    shape = job.shape
    trainings = tuple((t.call.stage, t.call.name, t.call.params.model_dump_json(exclude={"lr"}),
                       tuple((d.call.stage, d.call.name, d.call.params.model_dump_json(), d.steps)
                             for d in t.diagnostics)) for t in job.trainings)
    return (job.model.key()[:3], shape.n, shape.L, shape.d_x, shape.d, shape.m, trainings)


@dataclass(frozen=True)
class TaskShape:
    """How the jobs of one task key run: padded alike (``padding``), each member costing about
    ``member_bytes`` in ``dtype``, ``members`` to a task (the last task of a group may hold fewer)."""

    padding: Padding
    dtype: torch.dtype
    member_bytes: int
    members: int

    @property
    def packable(self) -> bool:
        """Whether the padded blocks keep their alignment at every position of an ensemble
        (mini-batches are padded with zero sequences to keep theirs: ``Problem.sequences``)."""
        elements = aligned_rows(self.dtype)
        return self.padding.n_padded % elements == 0 and self.padding.m_padded % elements == 0


@dataclass(frozen=True)
class Packing:
    """How a plan's jobs become tasks: the one sizing the task stream (``tasks``, ``batches``)
    and the memory check (``framework.execution.memory``) both use.

    ``max_ensemble`` members per task when given; else up to ``DEFAULT_MAX_ENSEMBLE``, and
    enough tasks for the ``slots`` worker threads where a group has that many jobs. Never more
    than ``task_bytes`` of members. How many of a task's members step at once is not the
    planner's to guess from a size: where one batched step of K costs more than K steps of one
    (wide networks on a CPU, whose K recurrent matrices outgrow the caches), the task measures
    that and runs its members in parts (``framework.execution.ensemble_choice``), and it still
    makes the data and initial weights once for all of them.
    """

    dtype: str
    max_ensemble: int | None = None
    slots: int = 1
    task_bytes: int = DEFAULT_TASK_BYTES

    def task_shape(self, job: Job, jobs: int, groups: int) -> TaskShape:
        """The shape of the tasks of ``job``'s group (``jobs`` of them, among ``groups`` groups
        of compatible jobs); its padding and cost are worked out once, here."""
        dtype = resolve_dtype(self.dtype)
        padding = padding_of(job, dtype)
        cost = member_bytes(job, padding, dtype.itemsize)
        shape = TaskShape(padding, dtype, cost, 1)
        if not shape.packable:
            return shape
        if self.max_ensemble is not None:
            size = self.max_ensemble
        else:
            share = max(1, self.slots // groups) if groups < self.slots else 1
            size = min(DEFAULT_MAX_ENSEMBLE, math.ceil(jobs / share))
        return TaskShape(padding, dtype, cost, max(1, min(size, self.task_bytes // cost)))

    def tasks(self, jobs: Sequence[Job]) -> list[list[Job]]:
        """The jobs grouped by ``task_key`` into tasks of ``task_shape(...).members``, in
        their original order within each task."""
        groups: dict[tuple, list[Job]] = {}
        for job in jobs:
            groups.setdefault(task_key(job), []).append(job)
        grouped: list[list[Job]] = []
        for group in groups.values():
            size = self.task_shape(group[0], len(group), len(groups)).members
            grouped.extend(group[i:i + size] for i in range(0, len(group), size))
        return grouped

    def batches(self, jobs: Iterable[Job], tasks_per_batch: int | None = None,
                window: int = WINDOW) -> Iterator[list[list[Job]]]:
        """The batches of a scan, made as they are needed: ``window`` jobs at a time grouped into
        tasks (``tasks``) and the tasks into batches (``batch_tasks``)."""
        source = iter(jobs)
        while True:
            chunk = list(itertools.islice(source, window))
            if not chunk:
                return
            yield from batch_tasks(self.tasks(chunk), self.slots, tasks_per_batch)


def member_bytes(job: Job, padding: Padding, itemsize: int) -> int:
    """An estimate of one member's memory while training and measuring: the weights, gradient and
    update (about 6 times the default-trained weights, 6 m×m for the Elman network's W), the forward and
    backward states at W and W0 (about 12 layers·n·m), and the Gram and basis work of the
    diagnostics (about 4 (n·layers)² + 2 m·n·layers), with n and m padded."""
    m, rows = padding.m_padded, padding.n_padded * job.shape.layers
    network = job.network()
    layout = network.weight_layout(m, job.shape.d_x, job.shape.d)
    weights = sum(math.prod(layout.shape(name)) for name in network.trained_by_default)
    return itemsize * (6 * weights + 12 * rows * m + 4 * rows * rows + 2 * m * rows)


BATCH_SECONDS = 1.0  # the estimated work a batch of tasks is filled to
BATCHES_PER_SLOT = 4  # at least this many batches per worker thread, where there are that many tasks
STEP_SECONDS = 3e-4  # estimated cost of one training step of a tiny network (Python and dispatch)
LOG_SECONDS = 2.5e-3  # of one logged step's diagnostics on a tiny network
FLOP_RATE = 5e9  # floating-point operations per second one worker thread sustains on these shapes


def task_seconds(task: Sequence[Job]) -> float:
    """A rough estimate of a task's time on one CPU thread: a fixed cost per training step and
    per logged step (measured on 2 cores for tiny networks, where it dominates) and the
    products of the forward and backward passes (about 6 n·L·m·(m + d_x + d) per step and member)."""
    s = task[0].shape
    steps = task[0].training_steps
    logged = sum(len(training.steps) for training in task[0].trainings)
    flops = 6 * s.n * s.L * s.m * (s.m + s.d_x + s.d) * (steps + logged) * len(task)
    return steps * STEP_SECONDS + logged * LOG_SECONDS + flops / FLOP_RATE


def batch_work(batch: Sequence[Sequence[Job]]) -> float:
    """A batch's estimated work for the progress estimate: ``task_seconds`` of each point alone
    (the same for every point of a task, so worked out once per task), a width-512 point some
    twenty times a width-64 one."""
    return sum(task_seconds(task[:1]) * len(task) for task in batch)


def longest_first(batches: Sequence[list[list[Job]]]) -> list[list[list[Job]]]:
    """The batches in decreasing estimated work (equal ones in their order): the longest
    processing time first, so a scan does not end on one large batch started last, and the
    batches that decide its end are timed first (``framework.execution.time_left``)."""
    return sorted(batches, key=batch_work, reverse=True)


def batch_tasks(tasks: Sequence[list[Job]], slots: int = 1, tasks_per_batch: int | None = None) -> list[list[list[Job]]]:
    """Consecutive tasks joined into batches, each run by one Dask task: ``tasks_per_batch``
    tasks each when given; else batches of about ``BATCH_SECONDS`` of estimated work, but at
    least ``BATCHES_PER_SLOT`` batches per worker thread where there are that many tasks, so
    that every worker stays busy to the end."""
    if tasks_per_batch is None:
        most = max(1, len(tasks) // (BATCHES_PER_SLOT * max(1, slots)))
        batches: list[list[list[Job]]] = []
        work = 0.0
        for task in tasks:
            if not batches or work >= BATCH_SECONDS or len(batches[-1]) >= most:
                batches.append([])
                work = 0.0
            batches[-1].append(task)
            work += task_seconds(task)
        return batches
    size = max(1, tasks_per_batch)
    return [list(tasks[i:i + size]) for i in range(0, len(tasks), size)]
