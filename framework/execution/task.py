"""One task: grid points of one shape run together as an ensemble, their stage DAG in order.

A task takes K jobs (K = 1 in the plain case) whose tensors have identical shapes and whose
stages agree but for per-member numbers (seeds, learning rates). It runs their stages in
dependency order (``framework.planning.dag``) on the whole ensemble: the data, each distinct
generator call once per worker process (``DataCache``: the data set of a width scan is made
once, not once per width); the initial weights, each distinct initializer call once per task;
then every optimizer stage from those same initial weights, each with the diagnostic stages
that measure it (``framework.execution.measuring``). The results are split back into one
``MemberResult`` per grid point. It runs anywhere (a Dask worker, the client, a test) and
returns only numpy arrays and strings.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np
import torch

from framework.engine.devices import resolve_device, resolve_dtype
from framework.engine.padding import Padding
from framework.engine.seeds import derive_seed
from framework.engine.step_size import auto_learning_rate
from framework.engine.network import Network
from framework.engine.tensors import Problem, Weights
from framework.execution import measured_together
from framework.execution.ensemble_choice import members_per_run
from framework.execution.measuring import Measurements, ResultArrays
from framework.execution.step_reporter import StepReporter, schedule_of
from framework.execution.time_split import TimeSplit
from framework.execution.training import Trajectory, train
from framework.planning.calls import Call, Job, Training
from framework.planning.tasks import padding_of
from framework.contract.store_layout import Layout
from framework.contract.run_records import MemberResult
from framework.contract.store_names import Status

if TYPE_CHECKING:
    from torch import Tensor


class DataCache:
    """The data of generator calls, kept for the calls seen last: identical calls (equal
    ``Call.key()``) compute identical data, so each is generated once per worker process."""

    def __init__(self, size: int = 32):
        self.size = size
        self.problems: OrderedDict[tuple, Problem] = OrderedDict()

    def get(self, call: Call) -> Problem:
        key = call.key()
        if key in self.problems:
            self.problems.move_to_end(key)
            return self.problems[key]
        problem = call.component().generate(call.params, call.seed)
        self.problems[key] = problem
        if len(self.problems) > self.size:
            self.problems.popitem(last=False)
        return problem


# One per process, at module level on purpose: a Dask worker process runs many batches, and
# the data one of them generated serves the next ones (a scan's points share a few data sets).
WORKER_DATA = DataCache()


def initial_weights(jobs: Sequence[Job]) -> Weights:
    """The members' initial weights, each distinct initializer call of the task computed once
    (an initializer is a function of its parameters, seed and the weights' layout: the model's
    at the data's d_x and d)."""
    made: dict[tuple, Weights] = {}
    members = []
    for job in jobs:
        key = (job.init.key(), job.model.key(), job.shape.d_x, job.shape.d)
        if key not in made:
            made[key] = job.init.component().initialize(job.init.params, job.weight_layout(), job.init.seed)
        members.append(made[key])
    return Weights.stack(members)


def _error_text(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def run_batch(tasks: Sequence[Sequence[Job]], layout: Layout, device: str = "cpu", dtype: str = "float64",
              name: str | None = None) -> list[list[MemberResult]]:
    """Run tasks one after another (one Dask task of ``planning.tasks.batch_tasks``); one list of
    results per task, as ``run_ensemble`` gives them."""
    trainings = [schedule_of(training) for jobs in tasks for training in jobs[0].trainings]
    reporter = StepReporter(name, sum(len(jobs) for jobs in tasks), trainings)
    reporter.started()
    return [run_ensemble(jobs, layout, device, dtype, reporter) for jobs in tasks]


def run_ensemble(jobs: Sequence[Job], layout: Layout, device: str = "cpu", dtype: str = "float64",
             reporter: StepReporter | None = None) -> list[MemberResult]:
    """Run the jobs as one ensemble and return one result per job, in order.

    A member whose f becomes NaN or infinite in a training is ``diverged`` (that training's
    results stop there; its other trainings and the other members go on). When the ensemble
    raises, each member is run again alone, so that only the members that raise by themselves
    are ``failed`` (with the message); a member's results do not depend on its ensemble, so the
    others' are those they would have had together.
    """
    start, split = time.perf_counter(), TimeSplit()
    try:
        results = _run(jobs, layout, resolve_device(device), resolve_dtype(dtype), split, reporter)
    except Exception as exc:  # recorded in the store; the scan goes on
        if len(jobs) > 1:
            return [result for job in jobs for result in run_ensemble([job], layout, device, dtype)]
        elapsed = time.perf_counter() - start
        return [MemberResult(job.point.index, Status.FAILED, _error_text(exc), elapsed, finished_at=time.time(),
                             seconds=split.per_member(elapsed, len(jobs))) for job in jobs]
    elapsed = time.perf_counter() - start
    for result in results:
        result.wall_time, result.finished_at = elapsed, time.time()
        result.seconds = split.per_member(elapsed, len(jobs))
    return results


def learning_rates(trainings: Sequence[Training], weights: Weights, problem: Problem, padding: Padding,
                   network: Network) -> Tensor:
    """Each member's learning rate, ``[K]``: its number, or for ``lr: auto`` a fraction of
    2/λ_max of the tangent kernel at its initialization, from its own seed (a padded network's
    measured on its real neurons and sequences, member by member)."""
    given = [training.call.params.lr for training in trainings]
    rates = torch.tensor([0.0 if rate == "auto" else rate for rate in given], dtype=weights.dtype,
                         device=weights.device)
    if "auto" in given:
        seeds = [derive_seed(training.call.seed, "lr-auto") for training in trainings]
        fractions = torch.tensor([training.call.params.lr_fraction for training in trainings], dtype=rates.dtype,
                                 device=rates.device)
        trained = trainings[0].call.params.trained
        if padding.active:
            measured = _automatic_rates_cut_back(weights, problem, padding, trained, seeds, network)
        else:
            measured = auto_learning_rate(weights, problem, trained, 1.0, seeds, network)
        measured = measured * fractions
        automatic = torch.tensor([rate == "auto" for rate in given], device=rates.device)
        rates = torch.where(automatic, measured, rates)
    return rates


def _automatic_rates_cut_back(weights: Weights, problem: Problem, padding: Padding, trained: Sequence[str],
                              seeds: Sequence[int], network: Network) -> Tensor:
    """``lr: auto``'s 2/λ_max of each padded member, measured on the member cut back to its real
    n and m: all members at once where that was found to give each one its rate alone bit for
    bit, member by member otherwise (``measured_together``, as for the diagnostics)."""
    kind = ("lr: auto", type(network).__qualname__, padding, tuple(tuple(t.shape) for t in weights.tensors.values()),
            tuple(problem.X.shape), str(weights.dtype), str(weights.device), tuple(trained))

    def rate(real: Weights, real_problem: Problem, member_seeds: Sequence[int]) -> Tensor:
        return auto_learning_rate(real, real_problem, trained, 1.0, member_seeds, network.around(real, real_problem))

    def together() -> dict[str, Tensor]:
        return {"lr": rate(padding.real_weights(weights), padding.real_problem(problem), seeds)}

    def apart() -> dict[str, Tensor]:
        return {"lr": torch.cat([rate(padding.real_weights(weights.member(k)), padding.real_problem(problem.member(k)),
                                      [seed]) for k, seed in enumerate(seeds)])}

    return measured_together.measured(kind, len(seeds), together, apart)["lr"]


def _members_per_run(jobs: Sequence[Job], initial: Weights, problem: Problem, network: Network) -> int:
    """How many of the task's members train at once (``ensemble_choice``: measured by its first
    training's optimizer, once per kind of task in this process, on copies of the task's
    weights at a learning rate of 0)."""
    first = jobs[0].trainings[0].call
    optimizer = first.component()
    kind = (first.name, first.params.model_dump_json(exclude={"lr", "steps"}), type(network).__qualname__,
            tuple((name, tuple(tensor.shape)) for name, tensor in initial.tensors.items()), tuple(problem.X.shape),
            str(initial.dtype), str(initial.device))

    def step_of(size: int) -> Callable[[], Any]:
        weights, part_problem = initial.members(0, size).map(torch.clone), problem.members(0, size)
        state = optimizer.start(first.params, part_problem, [job.trainings[0].call.seed for job in jobs[:size]])
        stepped = optimizer.network_for(first.params, network.around(weights, part_problem), weights, part_problem)
        lr = torch.zeros(size, dtype=initial.dtype, device=initial.device)
        return lambda: optimizer.step(first.params, state, weights, part_problem, lr, stepped)

    return members_per_run(kind, len(jobs), step_of, initial.device)


def _run(jobs: Sequence[Job], layout: Layout, device: torch.device, dtype: torch.dtype, split: TimeSplit,
         reporter: StepReporter | None = None) -> list[MemberResult]:
    """The task's data and initial weights, made once; its members trained and measured all
    together, or part after part where that is faster here (``_members_per_run``)."""
    padding = padding_of(jobs[0], dtype)
    problem = padding.problem(Problem.stack([WORKER_DATA.get(job.data) for job in jobs]).to(device, dtype))
    initial = padding.weights(initial_weights(jobs).to(device, dtype))
    network = jobs[0].network()
    size = _members_per_run(jobs, initial, problem, network) if len(jobs) > 1 else len(jobs)
    starts = range(0, len(jobs), size)
    if reporter is not None and len(starts) > 1:
        reporter.one_after_another(len(jobs[0].trainings), len(starts))
    return [result for start in starts
            for result in _train(jobs[start:start + size], layout, problem.members(start, start + size),
                                 initial.members(start, start + size), padding, network, split, reporter)]


def _train(jobs: Sequence[Job], layout: Layout, problem: Problem, initial: Weights, padding: Padding,
           network: Network, split: TimeSplit, reporter: StepReporter | None) -> list[MemberResult]:
    """Every training of the jobs, as one ensemble, with the diagnostics that measure it."""
    network = network.around(initial, problem)  # a network defined relative to W0 takes this ensemble's
    results = ResultArrays(jobs, layout)
    runs: list[tuple[Trajectory, Tensor]] = []
    for position, first in enumerate(jobs[0].trainings):
        trainings = [job.trainings[position] for job in jobs]
        lr = learning_rates(trainings, initial, problem, padding, network)
        optimizer = first.call.component()
        stepped = optimizer.network_for(first.call.params, network, initial, problem)  # the network it steps
        measure = Measurements(trainings, results, initial, problem, padding, stepped, lr)
        start = initial.map(torch.clone)  # never shared with a step
        timed = split.timed(measure)
        on_log, on_step = reporter.training(timed) if reporter is not None else (timed, None)
        with split.training_run():
            trajectory = train(optimizer, first.call.params, start, problem, lr,
                               [training.call.seed for training in trainings], first.steps, stepped, on_log=on_log,
                               on_step=on_step, every_step_loss=measure.every_step_loss)
        if padding.active and padding.moved(trajectory.weights, ~trajectory.diverged):
            raise RuntimeError(f"optimizer '{first.call.name}' (stage {first.call.stage}) moved the zero padding "
                               "of a network whose n or m is not a multiple of the alignment: an entry that is 0 "
                               "with a gradient of 0 must stay 0, or the optimizer must set keeps_padding_zero = False")
        runs.append((trajectory, lr))
    several = len(runs) > 1
    out = []
    for k, job in enumerate(jobs):
        problems = []
        for training, (trajectory, _) in zip(job.trainings, runs):
            at = int(trajectory.diverged_at[k])
            if at >= 0:
                finite = [s for s, f in zip(trajectory.steps, trajectory.loss[:, k].tolist()) if np.isfinite(f)]
                problems.append((f"{training.call.stage}: " if several else "")
                                + f"diverged: f(W) became non-finite at step {at}"
                                + (f" (last finite value at step {finite[-1]})" if finite else ""))
        reached = tuple(int(t.diverged_at[k]) if t.diverged_at[k] >= 0 else training.call.params.steps
                        for training, (t, _) in zip(job.trainings, runs))
        out.append(MemberResult(job.point.index, Status.DIVERGED if problems else Status.DONE, "; ".join(problems),
                                reached_step=reached, learning_rate=tuple(float(lr[k]) for _, lr in runs),
                                values=results.member(k)))
    return out
