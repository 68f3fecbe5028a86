"""How far a running batch has got, sent from its worker to the client as Dask events.

The fraction sent is of the batch's time, not of its steps: a logged step's diagnostics can
cost as much as hundreds of training steps (the chain norms of a width-512 network take about
a fifth of its task), and the last logged step of a training measures what its first did
(every diagnostic is due at both ends of its schedule). So the time left is predicted from
what the batch has measured so far: each training step at the mean time of the steps run, the
last logged step of each training at the time of its first, the other logged steps at the mean
time of those run.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

PROGRESS_TOPIC = "overparam-progress"  # the Dask event topic a task's training progress is sent on
PROGRESS_INTERVAL = 0.5  # seconds between two progress events of one task


class StepReporter:
    """Sends a batch's progress at most every ``PROGRESS_INTERVAL`` seconds; does nothing outside
    a Dask worker (a test, the client). ``trainings`` holds (training steps, logged steps) of
    each training the batch runs, in the order it runs them."""

    def __init__(self, name: str | None, points: int, trainings: Sequence[tuple[int, int]]):
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
        self.first_log: float | None = None  # seconds of the latest training's first logged step
        self.steps_done, self.step_seconds = 0, 0.0
        self.other_logs: list[float] = []  # seconds of the logged steps that were not a training's first

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
            self.step_seconds += start - self.mark  # the step before this log, if any
            measure(*args)
            self.mark = time.perf_counter()
            took = self.mark - start
            if self.logs_here == 0:
                self.first_log = took
            else:
                self.other_logs.append(took)
            self.logs_here += 1
            self._send()

        def on_step(step: int, steps: int) -> None:
            now = time.perf_counter()
            self.step_seconds += now - self.mark
            self.mark = now
            self.steps_done += 1
            self.steps_here = step
            self._send()

        return on_log, on_step

    def fraction(self) -> float:
        """The part of the batch's time behind it: time so far over time so far and time left."""
        spent = time.perf_counter() - self.began
        left = self.seconds_left()
        return spent / (spent + left) if spent + left > 0 else 0.0

    def seconds_left(self) -> float:
        """The batch's time left, predicted from its steps and logged steps measured so far."""
        step = self.step_seconds / self.steps_done if self.steps_done else 0.0
        ends = self.first_log if self.first_log is not None else 0.0  # a training's first and last logged steps
        other = sum(self.other_logs) / len(self.other_logs) if self.other_logs else step  # unmeasured: as a step
        left = 0.0
        for index in range(max(0, self.current), len(self.trainings)):
            steps, logs = self.trainings[index]
            if index == self.current:
                steps, ends_left, logs = steps - self.steps_here, 1 if self.logs_here else 2, logs - self.logs_here
            else:
                ends_left = 2
            ends_left = min(ends_left, logs)
            left += steps * step + ends_left * ends + max(0, logs - ends_left) * other
        return left

    def _send(self) -> None:
        """The fraction, once a step's time is measured (before, the time left is unknown)."""
        if self.worker is None or not self.steps_done or time.monotonic() - self.sent < PROGRESS_INTERVAL:
            return
        self.sent = time.monotonic()
        self.last_fraction = max(self.last_fraction, self.fraction())  # a bar never goes back
        self.worker.log_event(PROGRESS_TOPIC, {"task": self.name, "fraction": self.last_fraction, "points": self.points})
