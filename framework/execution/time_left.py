"""The time a scan has left, from what its batches are estimated to cost and how fast its
worker threads get through that cost.

Points are weighed, not counted: each batch is announced with its estimated work
(``expect``; the orchestrator gives ``task_seconds`` of each of its points alone), so a scan
whose cheap points finish first does not promise that its expensive ones will be as quick.
The rate is measured per busy worker thread (work done over the seconds tasks have run), so
the minutes before the first task starts (the cluster, the workers' imports) do not count as
slow work. The time left is the larger of the work left spread over every thread and the
longest single task left (running or waiting): a scan's tail is one large task on one
thread, whatever the others do. Points not announced yet (a scan larger than the planning
window) cost the mean of those that were.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass
class _Running:
    fraction: float  # of its training done
    points: int
    began: float  # when its first progress event came


class TimeLeft:
    """The estimate for a scan of ``points`` grid points on ``slots`` worker threads; every
    method takes the time ``now`` (``time.perf_counter``) it is called at."""

    def __init__(self, points: int, slots: int = 1):
        self.points, self.slots = points, slots
        self._work: dict[str, float] = {}  # task -> estimated work, for the tasks not finished
        self._announced_work, self._announced_points = 0.0, 0
        self._running: dict[str, _Running] = {}
        self._finished: set[str] = set()  # a progress event that comes after its task finished is dropped
        self._began: dict[str, float] = {}  # task -> when it started on a worker, for the running ones
        self._done_work = self._busy = 0.0  # of the finished tasks: their work, and the thread-seconds they took
        self._lock = threading.Lock()  # progress events arrive on the client's event-loop thread

    def expect(self, task: str, work: float, points: int) -> None:
        """``task`` holds ``points`` grid points and will cost about ``work`` (in any unit, the
        same for every task)."""
        with self._lock:
            self._work[task] = work
            self._announced_work += work
            self._announced_points += points

    def started(self, task: str, now: float) -> None:
        """``task`` has started on a worker: its time counts from now."""
        with self._lock:
            if task not in self._finished:
                self._began.setdefault(task, now)

    def progress(self, task: str, fraction: float, points: int, now: float) -> None:
        """``task`` (of ``points`` grid points) has done ``fraction`` of its work."""
        with self._lock:
            if task in self._finished:
                return
            began = self._began.setdefault(task, now)
            self._running[task] = _Running(min(1.0, max(0.0, fraction)), points, began)

    def finished(self, task: str, now: float) -> None:
        with self._lock:
            running = self._running.pop(task, None)
            self._began.pop(task, None)
            if running is not None:
                self._busy += now - running.began
                self._done_work += self._work_of(task, running.points)
            self._work.pop(task, None)
            self._finished.add(task)

    def running_points(self) -> tuple[int, float]:
        """The grid points of the running tasks, and the part of them done."""
        with self._lock:
            return (sum(r.points for r in self._running.values()),
                    sum(r.fraction * r.points for r in self._running.values()))

    def seconds(self, now: float) -> float:
        """Seconds left; NaN before any work is measured."""
        with self._lock:
            done = self._done_work + sum(r.fraction * self._work_of(t, r.points) for t, r in self._running.items())
            busy = self._busy + sum(now - r.began for r in self._running.values())
            if done <= 0 or busy <= 0:
                return float("nan")
            rate = done / busy  # work per busy thread-second
            total = self._announced_work + (self.points - self._announced_points) * self._unit()
            tasks_left = [(1 - r.fraction) * self._work_of(t, r.points) for t, r in self._running.items()]
            tasks_left += [work for task, work in self._work.items() if task not in self._running]
            longest = max(tasks_left, default=0.0)
        return max(max(0.0, total - done) / (rate * max(1, self.slots)), longest / rate)

    def _unit(self) -> float:
        """The work of a point: the mean of the announced ones, 1 when none is."""
        return self._announced_work / self._announced_points if self._announced_points else 1.0

    def _work_of(self, task: str, points: int) -> float:
        return self._work.get(task, points * self._unit())
