"""Showing a scan's progress: its phases, grid points done, failed and running, elapsed time and
an estimate of the time left.

``rich`` draws a live bar on a terminal; elsewhere (a log file, CI) plain lines are printed,
since rich prints only its final state when stdout is not a terminal (docs/stack-notes.md): one
for every grid point that fails or diverges, and for the others one at most every
``PLAIN_INTERVAL`` seconds (and the last), so a scan of 10^5 points does not print 10^5 lines;
``quiet`` prints nothing. Messages and phases (starting the cluster,
running, writing the report) always get lines of their own, above a live bar.

The estimate (``time_left.TimeLeft``) counts the work of the points still running: each task
reports how far its training has got (``task_progress``, fed by the workers' progress events),
so the bar moves within a point; points are weighed by their estimated cost (``expect``).
"""
from __future__ import annotations

import math
import sys
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING, TextIO

from framework.contract.run_records import FINISHED
from framework.contract.store_names import Status
from framework.execution.time_left import TimeLeft

if TYPE_CHECKING:
    from rich.progress import Progress

MODES = ("auto", "rich", "plain", "quiet")
PLAIN_INTERVAL = 2.0  # seconds between two plain lines about points that are done


def format_seconds(seconds: float) -> str:
    """``12.3s``, ``4m05s``, ``2h10m``; ``?`` when unknown."""
    if not math.isfinite(seconds):
        return "?"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m{seconds:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


class ScanProgress:
    """Progress of one run: phases first, then a scan of ``total`` grid points (``start``)."""

    def __init__(self, mode: str = "auto", stream: TextIO | None = None):
        if mode not in MODES:
            raise ValueError(f"progress mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.stream = stream or sys.stdout
        if mode == "auto":
            mode = "rich" if self.stream.isatty() else "plain"
        self.mode = mode
        self.total = self.skipped = 0
        self.counts: Counter[str] = Counter()
        self.start_time = time.perf_counter()
        self.time_left = TimeLeft(0)
        self._bar: Progress | None = None
        self._task = None
        self._finishing = 0  # points of finished tasks not counted yet: still shown running
        self._states = threading.Lock()  # counts and running tasks change together (events arrive on another thread)
        self._last_line = -math.inf

    def phase(self, text: str) -> None:
        """A phase of the run (``starting a local Dask cluster ...``), on a line of its own."""
        self.message(f"{text} ...")

    def message(self, text: str, always: bool = False) -> None:
        """A line of its own, never glued to the bar (above it, on a terminal); ``always``
        prints it in quiet mode too (an answer to an option the user gave, such as --dashboard)."""
        if self.mode == "quiet" and not always:
            return
        if self._bar is not None:
            self._bar.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=self.stream, flush=True)

    def start(self, total: int, skipped: int = 0) -> None:
        """The scan begins: ``total`` points to run (``skipped`` already done)."""
        self.total, self.skipped = total, skipped
        self.start_time = time.perf_counter()
        self.time_left.points = total
        if self.mode == "rich" and total:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn("[bold]scan"), BarColumn(), TextColumn("{task.fields[points]}"),
                                 TextColumn("{task.fields[counts]}"), TimeElapsedColumn(),
                                 TextColumn("eta {task.fields[eta]}"), console=Console(file=self.stream),
                                 refresh_per_second=4)
            self._bar.start()
            self._task = self._bar.add_task("scan", total=total, points=f"0/{total}", counts=self._counts_text(),
                                            eta="?")

    @property
    def finished(self) -> int:
        return sum(self.counts.values())

    @property
    def running(self) -> int:
        """Grid points whose task has started on a worker and is not finished yet, or whose task
        has finished and that are not counted yet."""
        return min(self.time_left.running_points()[0] + self._finishing, self.total - self.finished)

    def _counts_text(self) -> str:
        """``6 done, 2 running, 4 pending``: the states of the scan's points, which add up to its total."""
        with self._states:
            running = self.running
            pending = self.total - self.finished - running
            parts = [f"{self.counts[s]} {s}" for s in FINISHED if self.counts[s]]
        parts += [f"{running} running"] if running else []
        return ", ".join(parts + ([f"{pending} pending"] if pending else []))

    def completed(self) -> float:
        """Grid points' worth of work done: the finished points, the running ones' fractions, and
        the points of a finished task not counted yet (as done: the count never falls back)."""
        with self._states:
            return self.finished + self._finishing + self.time_left.running_points()[1]

    def worker_threads(self, slots: int) -> None:
        """The scan runs on ``slots`` worker threads: the estimate spreads the work left over them."""
        self.time_left.slots = slots

    def expect(self, task: str, work: float, points: int) -> None:
        """A task (a batch) of ``points`` grid points will cost about ``work`` (``TimeLeft.expect``)."""
        self.time_left.expect(task, work, points)

    def estimate(self) -> float:
        """Seconds left (``TimeLeft.seconds``); NaN before any work is measured."""
        return self.time_left.seconds(time.perf_counter())

    def _refresh(self) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=self.completed(), points=f"{self.finished}/{self.total}",
                             counts=self._counts_text(), eta=format_seconds(self.estimate()))

    def task_progress(self, task: str, fraction: float, points: int, left: float | None = None) -> None:
        """A running task has done ``fraction`` of its time and predicts ``left`` seconds more
        (when it says); it holds ``points`` grid points."""
        self.time_left.progress(task, fraction, points, time.perf_counter(), left)
        self._refresh()

    def task_started(self, task: str) -> None:
        """A task has started on a worker (its time counts from now)."""
        self.time_left.started(task, time.perf_counter())

    def task_finished(self, task: str, points: int) -> None:
        """A task of ``points`` grid points is finished: each counts through ``point_finished``
        from now on, and until then stays running in the counts and done in the bar's length."""
        with self._states:
            self.time_left.finished(task, time.perf_counter())
            self._finishing += points

    def point_finished(self, label: str, status: str, wall_time: float, note: str = "") -> None:
        """A point is finished and counted (a point of a finished task moves from running to its state)."""
        with self._states:
            self.counts[status] += 1
            self._finishing = max(0, self._finishing - 1)
        if self._bar is not None:
            self._refresh()
        elif self.mode == "plain":
            now = time.perf_counter()
            if status == Status.DONE and now - self._last_line < PLAIN_INTERVAL and self.finished < self.total:
                return
            self._last_line = now
            elapsed = now - self.start_time
            extra = f" ({note})" if note else ""
            print(f"[{self.finished}/{self.total}] {label}: {status} in {format_seconds(wall_time)}{extra}; "
                  f"elapsed {format_seconds(elapsed)}, eta {format_seconds(self.estimate())}",
                  file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._refresh()  # the last frame shows the last counts
            self._bar.stop()
            self._bar = None
