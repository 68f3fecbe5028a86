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

The estimated work is a model (``task_seconds``: products counted at one rate), and time does
not follow it in proportion: on 2 CPU cores the quick start's tasks of m = 512 took 0.21 of
their estimate and those of m = 64 0.78, so a rate measured on the small tasks that finish
first promised the large ones four times too slow. So each task is priced by what is measured
of it where enough is: a running task's worker reports the part of its time behind it and
the time it has left (its steps and logged steps timed, ``framework.execution.step_reporter``),
and once that part is ``PACED`` its time left is what its worker last predicted, less the time
since (before, its setup and first logged step weigh too much). Once tasks of different work
are timed (finished, or projected to their end from their pace once ``FIT_PACED`` of it is
behind them), seconds = a·work^b is fitted to their times on log scales and prices each other
task; the plain rate serves until then. The scan submits its largest batches first
(``framework.planning.tasks.longest_first``), so the tasks that decide its end are the first
timed.
"""
from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

SPREAD = 1.5  # the timed tasks' largest over smallest work from which the power law is fitted
EXPONENTS = (0.2, 1.5)  # the fitted exponent b is kept within these
PACED = 0.1  # the part of a running task's time behind it from which it is priced by its own pace
FIT_PACED = 0.25  # and from which its projected time joins the power law's fit


@dataclass
class _Running:
    fraction: float  # of its time behind it, as its worker last reported
    points: int
    began: float  # when it started (or its first progress event came)
    reported: float  # when its last progress event came
    predicted: float | None = None  # the time left its worker predicted then, if it said

    def projected(self) -> float:
        """Its whole time: its time up to its last report and the time left its worker predicted
        then, or else from its pace up to that report."""
        spent = self.reported - self.began
        return spent + self.predicted if self.predicted is not None else spent / self.fraction

    def left(self, now: float) -> float:
        """Its time left: at its last report, the rest of its projected time; since then, less
        the time gone (a report that is late does not make it slower)."""
        return max(0.0, self.projected() - (now - self.began))


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
        self._timed: list[tuple[float, float]] = []  # (work, seconds) of each finished task
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

    def progress(self, task: str, fraction: float, points: int, now: float, left: float | None = None) -> None:
        """``task`` (of ``points`` grid points) has done ``fraction`` of its work, and its worker
        predicts ``left`` seconds more (when it says)."""
        with self._lock:
            if task in self._finished:
                return
            began = self._began.setdefault(task, now)
            self._running[task] = _Running(min(1.0, max(0.0, fraction)), points, began, now, left)

    def finished(self, task: str, now: float) -> None:
        with self._lock:
            running = self._running.pop(task, None)
            self._began.pop(task, None)
            if running is not None:
                self._busy += now - running.began
                self._done_work += self._work_of(task, running.points)
                self._timed.append((self._work_of(task, running.points), now - running.began))
            self._work.pop(task, None)
            self._finished.add(task)

    def running_points(self) -> tuple[int, float]:
        """The grid points of the running tasks, and the part of them done."""
        with self._lock:
            return (sum(r.points for r in self._running.values()),
                    sum(r.fraction * r.points for r in self._running.values()))

    def seconds(self, now: float) -> float:
        """Seconds left; NaN until a task has finished or has ``PACED`` of its time behind it
        (before, a task's setup and first logged step would be taken for its pace: the quick
        start's first frames said 10 minutes for 35 s)."""
        with self._lock:
            # the plain rate from the finished tasks and the paced running ones only: a task's first
            # report (its setup and first logged step behind it, 3% of its work done after 7 s) read
            # as pace priced every other task twice too slow (+104% in the quick start's trace)
            pacing = [(t, r) for t, r in self._running.items() if r.fraction >= PACED]
            done = self._done_work + sum(r.fraction * self._work_of(t, r.points) for t, r in pacing)
            busy = self._busy + sum(now - r.began for _, r in pacing)
            if done <= 0 or busy <= 0:  # nothing finished or paced yet
                return float("nan")
            cost = self._fitted_cost() or (lambda work: work * busy / done)  # else the plain rate
            seconds_left = [r.left(now) if r.fraction >= PACED else (1 - r.fraction) * cost(self._work_of(t, r.points))
                            for t, r in self._running.items()]
            seconds_left += [cost(work) for task, work in self._work.items() if task not in self._running]
            total, longest = sum(seconds_left), max(seconds_left, default=0.0)
            unannounced = self.points - self._announced_points
            if unannounced > 0:  # tasks of the announced ones' mean size and work
                per_task = self._announced_points / max(1, len(self._work) + len(self._finished))
                each = cost(per_task * self._unit())
                total, longest = total + unannounced / per_task * each, max(longest, each)
        return max(total / max(1, self.slots), longest)

    def _fitted_cost(self) -> Callable[[float], float] | None:
        """seconds = a·work^b fitted to the timed tasks (finished, or running with ``FIT_PACED``
        of their time behind them, at their projected time: earlier, two running tasks' noisy
        projections made a flat law that priced the quick start's small tasks like its large
        ones), as a function of the work; None while they are too few or too alike. Called
        under the lock."""
        timed = self._timed + [(self._work_of(t, r.points), r.projected())
                               for t, r in self._running.items() if r.fraction >= FIT_PACED]
        timed = [(work, seconds) for work, seconds in timed if work > 0 and seconds > 0]
        if len(timed) < 2 or max(w for w, _ in timed) < SPREAD * min(w for w, _ in timed):
            return None
        x = [math.log(work) for work, _ in timed]
        y = [math.log(seconds) for _, seconds in timed]
        mean_x, mean_y = sum(x) / len(x), sum(y) / len(y)
        slope = sum((a - mean_x) * (b - mean_y) for a, b in zip(x, y)) / sum((a - mean_x) ** 2 for a in x)
        b = min(max(slope, EXPONENTS[0]), EXPONENTS[1])
        log_a = mean_y - b * mean_x

        def cost(work: float) -> float:
            return math.exp(log_a + b * math.log(work)) if work > 0 else 0.0

        return cost

    def _unit(self) -> float:
        """The work of a point: the mean of the announced ones, 1 when none is."""
        return self._announced_work / self._announced_points if self._announced_points else 1.0

    def _work_of(self, task: str, points: int) -> float:
        return self._work.get(task, points * self._unit())
