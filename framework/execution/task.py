"""One task: grid points of one shape trained together as an ensemble, with their diagnostics.

A task takes K jobs (K = 1 in the plain case) whose tensors have identical shapes and whose
optimizer and diagnostics agree but for per-member numbers (seeds, learning rate). It makes
each member's data and weights from its own seeds, stacks them along the ensemble axis,
trains, measures the diagnostics on the schedule through one shared ``Probe`` per step, and
splits the results back into one ``MemberResult`` per grid point. It runs anywhere (a Dask
worker, the client, a test) and returns only numpy arrays and strings.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from framework.engine.devices import resolve_device, resolve_dtype
from framework.engine.tensors import Problem, Weights
from framework.storage.layout import Layout, MemberResult
from framework.planning.plan import Call, Job
from framework.engine.probe import Probe
from framework.engine.seeds import derive_seed
from framework.engine.step_size import auto_learning_rate
from framework.execution.training import train

if TYPE_CHECKING:
    from torch import Tensor

DATA_CACHE_SIZE = 32
PROGRESS_TOPIC = "overparam-progress"  # the Dask event topic a task's training progress is sent on
PROGRESS_INTERVAL = 0.5  # seconds between two progress events of one task
_data_cache: dict[tuple, Problem] = {}


def generate(call: Call) -> Problem:
    """The data of one generator call, computed once per process for identical calls (the data
    set of a width scan is shared by every width)."""
    key = call.key()
    if key not in _data_cache:
        if len(_data_cache) >= DATA_CACHE_SIZE:
            _data_cache.pop(next(iter(_data_cache)))
        _data_cache[key] = call.component().generate(call.params, call.seed)
    return _data_cache[key]


def _error_text(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


class _Recorder:
    """Collects the diagnostics of K members into per-member arrays shaped by the layout."""

    def __init__(self, jobs: Sequence[Job], layout: Layout, initial: Weights, problem: Problem):
        self.jobs, self.layout, self.initial, self.problem = jobs, layout, initial, problem
        self.K = len(jobs)
        self.values = {name: np.full((self.K, *layout.shape(v)), np.nan) for name, v in layout.variables.items()
                       if any(d.call.name == v.diagnostic for d in jobs[0].diagnostics)}
        self.step_index = {s: i for i, s in enumerate(layout.steps)}
        self.history_steps: list[int] = []
        self.history_loss: list[Tensor] = []
        self.diverged = torch.zeros(self.K, dtype=torch.bool)

    def __call__(self, step: int, weights: Weights, f: Tensor) -> None:
        self.history_steps.append(step)
        self.history_loss.append(f)
        self.diverged |= ~torch.isfinite(f).cpu()
        due = [d for d in self.jobs[0].diagnostics if step in d.steps]
        if not due:
            return
        mask = self.diverged.to(weights.W.device)
        if mask.any():  # diverged members are measured at their initial weights, then blanked
            keep = mask.view(-1, 1, 1)
            weights = Weights(*(torch.where(keep, w0, w) for w, w0 in
                                ((weights.W, self.initial.W), (weights.A, self.initial.A), (weights.B, self.initial.B))))
        probe = Probe(weights, self.initial, self.problem, trained=self.jobs[0].train.params.trained, step=step,
                      history_steps=self.history_steps, history_loss=torch.stack(self.history_loss),
                      seed=[derive_seed(job.diagnostics[0].call.seed, "probe", step) for job in self.jobs])
        for diagnostic in due:
            call = diagnostic.call
            measured = call.component().measure(call.params, probe)
            for name, value in measured.items():
                self._store(name, call.stage, step, value.detach().to("cpu", torch.float64).numpy())

    def _store(self, name: str, stage: str, step: int, value: np.ndarray) -> None:
        variable = self.layout.variables[name]
        value = value.copy()
        value[self.diverged.numpy()] = np.nan
        target = self.values[name]
        if variable.staged:
            target = target[:, self.layout.stages.index(stage)]
        if variable.scheduled:
            target = target[:, self.step_index[step]]
        region = (slice(None),) + tuple(slice(0, size) for size in value.shape[1:])
        target[region] = value


class StepReporter:
    """Sends how far a task's training has got to the client as a Dask event, at most every
    ``PROGRESS_INTERVAL`` seconds; does nothing outside a Dask worker (a test, the client)."""

    def __init__(self, task: str | None, points: int):
        self.task, self.points = task, points
        self.last = time.monotonic()
        self.worker = None
        if task is not None:
            try:
                from distributed import get_worker

                self.worker = get_worker()
            except (ImportError, ValueError):  # not running on a worker
                self.worker = None

    def __call__(self, step: int, steps: int) -> None:
        if self.worker is None or time.monotonic() - self.last < PROGRESS_INTERVAL:
            return
        self.last = time.monotonic()
        self.worker.log_event(PROGRESS_TOPIC, {"task": self.task, "fraction": step / max(1, steps),
                                               "points": self.points})


def run_pack(jobs: Sequence[Job], layout: Layout, device: str = "cpu", dtype: str = "float64",
             task: str | None = None) -> list[MemberResult]:
    """Train the jobs as one ensemble and return one result per job, in order.

    A member whose f becomes NaN or infinite is ``diverged`` (its results stop there, the
    others go on). When the ensemble raises, each member is run again alone, so that only the
    members that raise by themselves are ``failed`` (with the message); a member's results do
    not depend on its ensemble, so the others' are those they would have had together.
    """
    start = time.perf_counter()
    try:
        results = _run(jobs, layout, resolve_device(device), resolve_dtype(dtype), StepReporter(task, len(jobs)))
    except Exception as exc:  # recorded in the store; the scan goes on
        if len(jobs) > 1:
            return [result for job in jobs for result in run_pack([job], layout, device, dtype)]
        message = _error_text(exc)
        return [MemberResult(job.point.index, "failed", message, time.perf_counter() - start, -1, time.time())
                for job in jobs]
    elapsed = time.perf_counter() - start
    for result in results:
        result.wall_time, result.finished_at = elapsed, time.time()
    return results


def learning_rates(jobs: Sequence[Job], weights: Weights, problem: Problem) -> Tensor:
    """Each member's learning rate, ``[K]``: its number, or for ``lr: auto`` a fraction of
    2/λ_max of the tangent kernel at its initialization, from its own seed."""
    given = [job.train.params.lr for job in jobs]
    rates = torch.tensor([0.0 if rate == "auto" else rate for rate in given], dtype=weights.W.dtype,
                         device=weights.W.device)
    if "auto" in given:
        seeds = [derive_seed(job.train.seed, "lr-auto") for job in jobs]
        fractions = torch.tensor([job.train.params.lr_fraction for job in jobs], dtype=rates.dtype, device=rates.device)
        measured = auto_learning_rate(weights, problem, jobs[0].train.params.trained, 1.0, seeds) * fractions
        automatic = torch.tensor([rate == "auto" for rate in given], device=rates.device)
        rates = torch.where(automatic, measured, rates)
    return rates


def _run(jobs: Sequence[Job], layout: Layout, device: torch.device, dtype: torch.dtype,
         on_step: StepReporter | None = None) -> list[MemberResult]:
    problem = Problem.stack([generate(job.data) for job in jobs]).to(device, dtype)
    weights = Weights.stack([job.init.component().initialize(job.init.params, problem.d_x, problem.d, job.init.seed)
                             for job in jobs]).to(device, dtype)
    train_call = jobs[0].train
    lr = learning_rates(jobs, weights, problem)
    recorder = _Recorder(jobs, layout, weights, problem)
    trajectory = train(train_call.component(), train_call.params, weights, problem, lr,
                       [job.train.seed for job in jobs], jobs[0].steps, on_log=recorder, on_step=on_step)
    results = []
    for k, job in enumerate(jobs):
        values = {name: array[k] for name, array in recorder.values.items()}
        at = int(trajectory.diverged_at[k])
        if at >= 0:
            finite = [s for s, f in zip(trajectory.steps, trajectory.loss[:, k].tolist()) if np.isfinite(f)]
            message = f"diverged: f(W) became non-finite at step {at}" + (
                f" (last finite value at step {finite[-1]})" if finite else "")
            results.append(MemberResult(job.point.index, "diverged", message, reached_step=at,
                                        learning_rate=float(lr[k]), values=values))
        else:
            results.append(MemberResult(job.point.index, "done", reached_step=train_call.params.steps,
                                        learning_rate=float(lr[k]), values=values))
    return results
