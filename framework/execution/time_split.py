"""Where a task's time goes: training steps, diagnostics, and the rest (data, initial weights,
learning rates, splitting the results), kept by every task with two clocks it reads anyway.

A task's time is shared equally by its members, so the seconds of a run's points add up to
the time its workers spent in tasks (``RunSummary.worker_seconds``). On a GPU the clocks read
when the host waits, so a step's kernels may be counted with the measurement that reads them.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

PARTS = ("training", "diagnostics", "the rest")


@dataclass
class TimeSplit:
    """Seconds of one task in training steps and in diagnostics so far."""

    training: float = 0.0
    diagnostics: float = 0.0

    def timed(self, measure: Callable[..., Any]) -> Callable[..., Any]:
        """``measure`` (a training's ``on_log``), its seconds counted as diagnostics."""
        def timed_measure(*args: Any) -> Any:
            start = time.perf_counter()
            try:
                return measure(*args)
            finally:
                self.diagnostics += time.perf_counter() - start
        return timed_measure

    @contextmanager
    def training_run(self) -> Iterator[None]:
        """A training: its seconds, less the diagnostics measured inside it, counted as training."""
        start, measured = time.perf_counter(), self.diagnostics
        try:
            yield
        finally:
            self.training += time.perf_counter() - start - (self.diagnostics - measured)

    def per_member(self, elapsed: float, members: int) -> dict[str, float]:
        """Each member's share of a task that took ``elapsed`` seconds in all."""
        rest = max(0.0, elapsed - self.training - self.diagnostics)
        return {part: seconds / members for part, seconds in zip(PARTS, (self.training, self.diagnostics, rest))}
