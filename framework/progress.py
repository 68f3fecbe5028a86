"""Showing a scan's progress: jobs done, failed and running, elapsed time and an estimate.

``rich`` draws a live bar on a terminal; elsewhere (a log file, CI) one plain line is printed
per finished grid point, since rich prints only its final state when stdout is not a terminal
(docs/stack-notes.md); ``quiet`` prints nothing.
"""
from __future__ import annotations

import sys
import time
from collections import Counter
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

MODES = ("auto", "rich", "plain", "quiet")


def format_seconds(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m{seconds:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


class ScanProgress:
    """Progress of one scan of ``total`` grid points, fed one finished point at a time."""

    def __init__(self, total: int, skipped: int = 0, mode: str = "auto", stream: TextIO | None = None):
        if mode not in MODES:
            raise ValueError(f"progress mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.stream = stream or sys.stdout
        if mode == "auto":
            mode = "rich" if self.stream.isatty() else "plain"
        self.mode = mode
        self.total, self.skipped = total, skipped
        self.counts: Counter[str] = Counter()
        self.running = 0
        self.start = time.perf_counter()
        self._bar: Progress | None = None
        self._task = None
        if mode == "rich":
            self._bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[counts]}"), TimeElapsedColumn(), TextColumn("eta"),
                                 TimeRemainingColumn(), console=Console(file=self.stream))
            self._bar.start()
            self._task = self._bar.add_task("scan", total=total, counts=self._counts_text())

    @property
    def finished(self) -> int:
        return sum(self.counts.values())

    def _counts_text(self) -> str:
        parts = [f"{self.counts[s]} {s}" for s in ("done", "failed", "diverged") if self.counts[s]]
        return ", ".join(parts + [f"{self.running} running"])

    def estimate(self) -> float:
        """Seconds left, from the mean time per finished point so far."""
        if not self.finished:
            return float("nan")
        return (time.perf_counter() - self.start) / self.finished * (self.total - self.finished)

    def set_running(self, running: int) -> None:
        self.running = running
        if self._bar is not None:
            self._bar.update(self._task, counts=self._counts_text())

    def point_finished(self, label: str, status: str, wall_time: float, note: str = "") -> None:
        self.counts[status] += 1
        if self._bar is not None:
            self._bar.update(self._task, advance=1, counts=self._counts_text())
        elif self.mode == "plain":
            elapsed = time.perf_counter() - self.start
            extra = f" ({note})" if note else ""
            print(f"[{self.finished}/{self.total}] {label}: {status} in {format_seconds(wall_time)}{extra}; "
                  f"elapsed {format_seconds(elapsed)}, eta {format_seconds(self.estimate())}",
                  file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
