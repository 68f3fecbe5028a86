"""What a run reports of itself: one grid point's result, the run's summary, and the shapes of
what the lifecycle hooks receive (``framework.plugin_system.hookspecs``).

The results live here, below the layers that make them (execution) and store them (storage),
so that the hook specifications, which name them, import nothing from above. The plan, its
jobs and the parsed pipeline are made above the hooks' layer too; the hooks name them by the
``Protocol``s below, which say what a plugin may read of them.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from framework.contract.store_names import Status

if TYPE_CHECKING:
    import numpy as np

    from framework.contract.diagnostic import ProblemShape


@dataclass
class MemberResult:
    """What one grid point leaves in the store: its status and message, its run variables (the
    per-training ones as one value per optimizer stage) and its diagnostics' values."""

    index: tuple[int, ...]
    status: Status
    error: str = ""
    wall_time: float = float("nan")
    reached_step: tuple[int, ...] = ()  # per training, in the layout's order (none: not run)
    learning_rate: tuple[float, ...] = ()
    finished_at: float = float("nan")
    values: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # its share of its task's training, diagnostics, rest


FINISHED = (Status.DONE, Status.DIVERGED, Status.FAILED)  # the states a run leaves a point in, in the summary's order


@dataclass
class RunSummary:
    """What a run did: the grid points it found done (``skipped``), how many it left in each
    state (``counts``, keyed by ``Status``), and whether it was stopped."""

    store: Path
    total: int
    skipped: int
    counts: Counter[Status] = field(default_factory=Counter)
    elapsed: float = 0.0
    interrupted: bool = False
    stopped_by_failure: bool = False
    worker_seconds: Counter[str] = field(default_factory=Counter)  # the points' ``MemberResult.seconds``, added up

    @property
    def ok(self) -> bool:
        """Whether the run finished with every point it ran done."""
        return not self.interrupted and all(self.counts[s] == 0 for s in FINISHED if s is not Status.DONE)

    def text(self) -> str:
        """One line: what ran, what the store keeps, and how to go on."""
        ran = ", ".join(f"{self.counts[s]} {s}" for s in FINISHED)
        kept = self.skipped + sum(self.counts.values())
        if self.stopped_by_failure:
            return (f"stopped at the first failure (--fail-fast) after {self.elapsed:.1f}s: {ran}; {kept} of "
                    f"{self.total} grid points are kept in {self.store}{self.time_split()}; run the same command again "
                    "to resume")
        if self.interrupted:
            return (f"interrupted after {self.elapsed:.1f}s: {kept} of {self.total} grid points are kept in "
                    f"{self.store} ({ran} in this run){self.time_split()}; run the same command again to resume")
        return (f"finished in {self.elapsed:.1f}s: {ran}; {self.skipped} of {self.total} grid points were already "
                f"done; store: {self.store}{self.time_split()}")

    def time_split(self) -> str:
        """``; worker time 41.2s: 71% training, 24% diagnostics, 5% the rest``, or nothing when no
        point ran."""
        total = sum(self.worker_seconds.values())
        if total <= 0:
            return ""
        parts = ", ".join(f"{seconds / total:.0%} {part}" for part, seconds in self.worker_seconds.items())
        return f"; worker time {total:.1f}s: {parts}"


@runtime_checkable
class GridPointRecord(Protocol):
    """A grid point as the hooks see it: its index along each grid dimension and its axes' values."""

    @property
    def index(self) -> tuple[int, ...]: ...

    @property
    def values(self) -> Mapping[str, Any]: ...

    def label(self) -> str:
        """``m=256, seed=0``: how messages name the point."""
        ...


@runtime_checkable
class JobRecord(Protocol):
    """One grid point's job as the hooks see it: the point and the shape of its problem."""

    @property
    def point(self) -> GridPointRecord: ...

    @property
    def shape(self) -> ProblemShape: ...


@runtime_checkable
class PipelineRecord(Protocol):
    """A parsed pipeline as the hooks see it: its name, seed and store, and the file's keys as
    read (``raw``, overrides applied)."""

    @property
    def name(self) -> str: ...

    @property
    def seed(self) -> int: ...

    @property
    def store(self) -> Path: ...

    @property
    def raw(self) -> Mapping[str, Any]: ...


@runtime_checkable
class PlanRecord(Protocol):
    """A validated plan as the hooks see it: the pipeline, the stages in dependency order with
    their kinds, and the store's ``step`` coordinate. Its ``jobs`` (one per grid point) are
    iterable and sized."""

    @property
    def pipeline(self) -> PipelineRecord: ...

    @property
    def order(self) -> tuple[str, ...]: ...

    @property
    def kinds(self) -> Mapping[str, str]: ...

    @property
    def steps(self) -> tuple[int, ...]: ...

    @property
    def jobs(self) -> Any: ...
