"""A task runs its members all together, in parts or one after another, whichever is fastest here
(framework/execution/ensemble_choice.py): either way each member's results are bit for bit what
it gives alone, the choice is measured once per kind of task among K, K/2, …, 1 members at a
time, and the batch's progress still runs to its end. The outputs d = 4 of the network below
once broke the bit-for-bit promise: the product Bᵀ·residual ran by another BLAS path for K = 1
(its expanded operand kept a batch stride of 0) than for K > 1."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from framework.execution import ensemble_choice
from framework.execution.step_reporter import StepReporter, schedule_of
from framework.execution.task import run_batch, run_ensemble
from framework.planning.plan import plan_file
from scans import write_pipeline

WIDE = """\
name: wide
grid:
  m: [256]
  seed: 3
stages:
  data: {plugin: separable, params: {n: 8, L: 6, d_x: 4, d: 4, delta: 0.3}}
  init: {plugin: paper, params: {m: "${grid.m}"}}
  train: {plugin: gd, params: {steps: 12, lr: 0.05/m}, needs: [data, init]}
  diagnose: {plugins: [loss, pl_ratio, weight_distance, dprime_sparsity], schedule: {log: 4}, needs: [train]}
store: wide.zarr
"""


@pytest.fixture
def wide(tmp_path):
    plan = plan_file(write_pipeline(tmp_path, WIDE))
    return list(plan.jobs), plan.layout


def values(results) -> list[dict[str, np.ndarray]]:
    return [result.values for result in results]


def same(a: list[dict[str, np.ndarray]], b: list[dict[str, np.ndarray]]) -> bool:
    return all(x.keys() == y.keys() and all(np.array_equal(x[k], y[k], equal_nan=True) for k in x) for x, y in zip(a, b))


@pytest.mark.parametrize("choice", ["together", "alone", "measure"])
def test_each_member_gives_what_it_gives_alone_however_the_task_runs_them(wide, monkeypatch, choice):
    jobs, layout = wide
    monkeypatch.setenv("OVERPARAM_ENSEMBLE", "alone")
    alone = [result for job in jobs for result in values(run_ensemble([job], layout))]
    monkeypatch.setenv("OVERPARAM_ENSEMBLE", choice)
    assert same(values(run_ensemble(jobs, layout)), alone)


def test_the_choice_is_measured_once_per_kind_of_task_and_a_bad_setting_is_named(wide, monkeypatch):
    jobs, layout = wide
    monkeypatch.setenv("OVERPARAM_ENSEMBLE", "measure")
    monkeypatch.setattr(ensemble_choice, "_CHOICES", {})
    timed: list[int] = []

    def step_of(size: int):
        timed.append(size)
        return lambda: None

    assert ensemble_choice.members_per_run(("kind",), 6, step_of, torch.device("cpu")) in (6, 3, 1)
    assert sorted(timed) == [1, 3, 6]  # K, K/2, K/4 rounded down, 1
    ensemble_choice.members_per_run(("kind",), 6, step_of, torch.device("cpu"))
    assert len(timed) == 3  # measured once
    run_ensemble(jobs, layout)
    run_ensemble(jobs[:2], layout)  # another K: another kind
    run_ensemble(jobs, layout)
    assert len(ensemble_choice._CHOICES) == 3
    monkeypatch.setenv("OVERPARAM_ENSEMBLE", "sometimes")
    with pytest.raises(ValueError, match="OVERPARAM_ENSEMBLE=sometimes: expected one of measure, together, alone"):
        ensemble_choice.members_per_run(("any",), 2, step_of, torch.device("cpu"))


def test_a_batch_whose_task_runs_its_members_one_after_another_reports_its_progress_to_the_end(wide, monkeypatch):
    """The batch's trainings, one per member now, are each counted: the time left falls to 0."""
    jobs, layout = wide
    monkeypatch.setenv("OVERPARAM_ENSEMBLE", "alone")
    [training] = jobs[0].trainings
    reporter = StepReporter(None, len(jobs), [schedule_of(training)])
    trainings = []
    original = reporter.training

    def counted(measure):
        trainings.append(reporter.current + 1)
        return original(measure)

    monkeypatch.setattr(reporter, "training", counted)
    run_ensemble(jobs, layout, reporter=reporter)
    assert trainings == [0, 1, 2] and len(reporter.trainings) == 3
    assert reporter.seconds_left() == 0.0
    assert len(run_batch([jobs], layout)[0]) == 3
