"""How far a running batch has got, sent from its worker to the client as Dask events.

The fraction sent is of the batch's time, not of its steps: a logged step's diagnostics can
cost as much as hundreds of training steps (the chain norms of a width-512 network take about
a fifth of its task), and which diagnostics are due differs from one logged step to the next
(a sparse geometry schedule beside a dense one of the loss; every diagnostic at both ends of
its schedule). So the time left is predicted from what the batch has measured so far, each
kind of time by its own mean: the setup before a training's first logged step (its data,
initial weights, learning rates), its first step (which builds what later steps reuse: 160 ms
against 5 ms for a width-512 network), the other steps, and each logged step by the logged
steps with the same diagnostics due; a set of diagnostics not yet measured by its tightest
measured bound: the cheapest measured set that holds them all (two geometry diagnostics alone,
by the logged step that had them beside the dense ones, not by the first logged step, which
also paid the chain norms and what a training computes once), else the dearest measured set
they hold (the last logged step of a training, where an end-of-training summary joins every
other diagnostic, at the time of the first).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from framework.planning.calls import Training

PROGRESS_TOPIC = "overparam-progress"  # the Dask event topic a task's training progress is sent on
PROGRESS_INTERVAL = 0.5  # seconds between two progress events of one task


Due = frozenset[str]  # the diagnostics due at a logged step, as "stage.name"


def schedule_of(training: Training) -> tuple[int, tuple[Due, ...]]:
    """A training's steps, and the diagnostics due at each of its logged steps."""
    due = [(d.call.stage + "." + d.call.name, set(d.steps)) for d in training.diagnostics]
    return training.call.params.steps, tuple(frozenset(name for name, steps in due if step in steps)
                                              for step in training.steps)


class _Mean:
    """The mean of the seconds added."""

    def __init__(self) -> None:
        self.count, self.total = 0, 0.0

    def add(self, seconds: float) -> None:
        self.count += 1
        self.total += seconds

    def mean(self, otherwise: float) -> float:
        """The mean, or ``otherwise`` when nothing was added."""
        return self.total / self.count if self.count else otherwise


class StepReporter:
    """Sends a batch's progress at most every ``PROGRESS_INTERVAL`` seconds; does nothing outside
    a Dask worker (a test, the client). ``trainings`` holds (training steps, the diagnostics due
    at each logged step: ``schedule_of``) of each training the batch runs, in the order it runs
    them."""

    def __init__(self, name: str | None, points: int, trainings: Sequence[tuple[int, Sequence[Due]]]):
        self.name, self.points, self.trainings = name, points, list(trainings)
        self.worker = None
        if name is not None:
            try:
                from distributed import get_worker

                self.worker = get_worker()
            except (ImportError, ValueError):  # not running on a worker
                self.worker = None
        self.began = self.mark = time.perf_counter()  # the batch's start; the end of the last step or log
        self.sent = time.monotonic()
        self.last_fraction = 0.0
        self.current = -1  # the training running, an index of ``trainings``
        self.steps_here = self.logs_here = 0  # done in the current training
        self.steps_done = 0  # training steps of the batch so far
        self.setups, self.first_steps, self.later_steps = _Mean(), _Mean(), _Mean()
        self.log_seconds: dict[Due, _Mean] = {}  # the logged steps measured, by what was due

    def started(self) -> None:
        """Tell the client that the batch has started (it fires ``overparam_job_started``)."""
        if self.worker is not None:
            self.worker.log_event(PROGRESS_TOPIC, {"task": self.name, "started": True})

    def one_after_another(self, trainings: int, parts: int) -> None:
        """The next task's ``trainings`` trainings run once per part, its members in ``parts``
        parts one after another (``framework.execution.ensemble_choice``)."""
        start = self.current + 1
        self.trainings[start:start + trainings] = self.trainings[start:start + trainings] * parts

    def training(self, measure: Callable[..., Any]) -> tuple[Callable[..., Any], Callable[[int, int], None]]:
        """The ``on_log`` and ``on_step`` of the batch's next training: ``measure`` timed, and
        the steps counted."""
        self.current += 1
        self.steps_here = self.logs_here = 0

        def on_log(*args: Any) -> None:
            start = time.perf_counter()
            before = start - self.mark  # a training's setup, or the loss evaluated for this log
            measure(*args)
            self.mark = time.perf_counter()
            if self.logs_here == 0:
                self.setups.add(before)
            due = self.trainings[self.current][1][self.logs_here]
            self.log_seconds.setdefault(due, _Mean()).add(self.mark - start + (before if self.logs_here else 0.0))
            self.logs_here += 1
            self._send()

        def on_step(step: int, steps: int) -> None:
            now = time.perf_counter()
            (self.first_steps if step == 1 else self.later_steps).add(now - self.mark)
            self.mark = now
            self.steps_done += 1
            self.steps_here = step
            self._send()

        return on_log, on_step

    def fraction(self, left: float) -> float:
        """The part of the batch's time behind it, its time ``left`` as predicted (``seconds_left``):
        time so far over time so far and time left."""
        spent = time.perf_counter() - self.began
        return spent / (spent + left) if spent + left > 0 else 0.0

    def seconds_left(self) -> float:
        """The batch's time left, predicted from its setups, steps and logged steps measured so far."""
        step = self.later_steps.mean(self.first_steps.mean(0.0))
        first = self.first_steps.mean(step)
        setup = self.setups.mean(0.0)
        left = 0.0
        for index in range(max(0, self.current), len(self.trainings)):
            steps, due = self.trainings[index]
            if index == self.current:
                done, due = self.steps_here, due[self.logs_here:]
                left += setup if self.logs_here == 0 else 0.0
            else:
                done = 0
                left += setup
            left += (first if done == 0 and steps > 0 else 0.0) + max(0, steps - max(done, 1)) * step
            left += sum(self._log_cost(d, step) for d in due)
        return left

    def _log_cost(self, due: Due, step: float) -> float:
        """A logged step's predicted seconds: the mean of those measured with the same diagnostics
        due; else its tightest bound measured: the cheapest set measured that holds all of them
        (a first logged step, which also pays what a training computes once, bounds a step of
        two of its diagnostics far above), else the dearest that they hold; else the measured
        set sharing most of them (the dearer on a tie); else (nothing measured, or nothing due:
        the training's last step) a step's."""
        if due in self.log_seconds:
            return self.log_seconds[due].mean(step)
        if not due or not self.log_seconds:
            return step
        measured = [(seen, mean.mean(step)) for seen, mean in self.log_seconds.items()]
        above = [seconds for seen, seconds in measured if due < seen]
        if above:
            return min(above)
        below = [seconds for seen, seconds in measured if seen < due]
        if below:
            return max(below)
        return max((len(due & seen), seconds) for seen, seconds in measured)[1]

    def _send(self) -> None:
        """The fraction (for the bar, which never goes back) and the time left as predicted now
        (for the estimate: a prediction that grows would stall the fraction, and a stalled
        fraction read as pace says the batch slows down), once a step's time is measured
        (before, the time left is unknown)."""
        if self.worker is None or not self.steps_done or time.monotonic() - self.sent < PROGRESS_INTERVAL:
            return
        self.sent = time.monotonic()
        left = self.seconds_left()  # a bar never goes back; the estimate takes the prediction as it is
        self.last_fraction = max(self.last_fraction, self.fraction(left))
        self.worker.log_event(PROGRESS_TOPIC, {"task": self.name, "fraction": self.last_fraction, "points": self.points,
                                               "left": left})
