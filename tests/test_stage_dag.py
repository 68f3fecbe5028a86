"""The stage DAG runs as declared (docs/architecture.md, "The layers" and "Execution").

Two optimizer stages from one data set and one initialization, each measured by its own
diagnostic stage, give each optimizer exactly (bit for bit) the results of a pipeline that runs
that optimizer alone; the store labels which stage every value came from. A task computes its
initial weights once per member whatever number of trainings start from them, and a worker
generates the data set of a width scan once.
"""
from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from framework.configuration.source import PipelineError
from overparam.engine import Elman
from framework.execution.task import run_ensemble
from framework.planning.plan import plan_file
from framework.report import build_report
from framework.report.show import render_store

from framework.contract.store_names import STATUS_CODE
from framework.storage.store import Store
from scans import overparam, write_pipeline

DATA = Path(__file__).parent / "data"
HEAD = """\
name: {name}
seed: 5
grid:
  m: [16, 24]
  seed: 2
stages:
  data: {{plugin: separable, params: {{n: 8, L: 4, d_x: 4, d: 2, delta: 0.2}}}}
  init: {{plugin: paper, params: {{m: "${{grid.m}}"}}}}
"""
GD = """\
  gd: {plugin: gd, params: {steps: 12, lr: 0.05/m}, needs: [data, init]}
  watch_gd: {plugins: [loss, pl_ratio, {semi_smoothness: {tau: 0.05}}], schedule: {at: [0, 6, 12]}, needs: [gd]}
"""
SGD = """\
  sgd: {plugin: sgd, params: {steps: 20, lr: auto}, needs: [data, init]}
  watch_sgd: {plugins: [loss, dprime_sparsity, {semi_smoothness: {tau: 0.05}}], schedule: {log: 6}, needs: [sgd]}
"""


def pipeline(folder: Path, name: str, *stages: str) -> Path:
    folder.mkdir()
    return write_pipeline(folder, HEAD.format(name=name) + "".join(stages) + f"store: {name}.zarr\n")


def run_here(path: Path) -> xr.Dataset:
    """Every job run alone in this process, written to a real store."""
    plan = plan_file(path)
    layout = plan.layout
    store = Store.prepare(path.parent / "store.zarr", layout, plan.pipeline)
    for job in plan.jobs:
        store.write(run_ensemble([job], layout)[:1])
    return xr.open_zarr(str(path.parent / "store.zarr")).load()


def table_of(text: str) -> dict[str, list[str]]:
    """The columns of ``overparam show``'s table, by header (headers are two spaces apart)."""
    lines = text.split("done points only):\n")[1].splitlines()
    headers = [h.strip() for h in re.split(r"\s{2,}", lines[0].strip())]
    rows = [re.split(r"\s{2,}", line.strip()) for line in lines[1:] if line.strip() and line.startswith("   ")]
    return {header: [row[i] for row in rows] for i, header in enumerate(headers)}


def same(a: xr.DataArray, b: xr.DataArray) -> bool:
    return a.dims == b.dims and np.array_equal(a.values, b.values, equal_nan=True)


def test_two_optimizers_from_one_initialization_equal_each_optimizer_alone(tmp_path):
    both_file = pipeline(tmp_path / "both", "both", GD, SGD)
    out = overparam("run", str(both_file), "--workers", "1", "--progress", "quiet")
    assert out.returncode == 0, out.stderr
    both = xr.open_zarr(str(tmp_path / "both" / "both.zarr")).load()
    gd = run_here(pipeline(tmp_path / "gd", "gd", GD))
    sgd = run_here(pipeline(tmp_path / "sgd", "sgd", SGD))
    assert (both["status"].values == STATUS_CODE["done"]).all()
    # the labels: diagnostic stages along `stage`, with the training each measured
    assert both["stage"].values.tolist() == ["watch_gd", "watch_sgd"]
    assert both["trained_by"].values.tolist() == ["gd", "sgd"]
    assert both["train"].values.tolist() == ["gd", "sgd"]
    assert both["loss"].dims == ("m", "seed", "stage", "step")
    for alone, stage, train in ((gd, "watch_gd", "gd"), (sgd, "watch_sgd", "sgd")):
        steps = alone["step"].values
        for name in ("loss", "semi_smoothness_gap"):
            assert same(both[name].sel(stage=stage, step=steps).drop_vars(["stage", "trained_by"]), alone[name]), name
        assert same(both["learning_rate"].sel(train=train, drop=True), alone["learning_rate"])
        assert same(both["reached_step"].sel(train=train, drop=True), alone["reached_step"])
    # a diagnostic listed by one stage only says which stage and training measured it
    assert both["pl_ratio"].attrs["stage"] == "watch_gd" and both["pl_ratio"].attrs["trained_by"] == "gd"
    assert same(both["pl_ratio"].sel(step=gd["step"].values), gd["pl_ratio"])
    assert same(both["dprime_max"].sel(step=sgd["step"].values), sgd["dprime_max"])
    # the two optimizers did train differently from the same W0
    assert not np.array_equal(both["loss"].sel(stage="watch_gd", step=12).values,
                              both["loss"].sel(stage="watch_sgd", step=12).values)
    np.testing.assert_array_equal(both["loss"].sel(stage="watch_gd", step=0).values,
                                  both["loss"].sel(stage="watch_sgd", step=0).values)
    check = overparam("check", str(tmp_path / "both" / "both.zarr"))
    assert check.returncode == 0, check.stdout + check.stderr
    # overparam show gives one column per stage, each what the stage's pipeline alone shows
    shown = table_of(render_store(tmp_path / "both" / "both.zarr"))
    for stage, folder in (("watch_gd", "gd"), ("watch_sgd", "sgd")):
        assert shown[f"f_T/f_0 [{stage}]"] == table_of(render_store(tmp_path / folder / "store.zarr"))["f_T/f_0"]
    # the report judges each training on what its own diagnostic stage measured
    report = build_report(tmp_path / "both" / "both.zarr")
    titles = {finding.title: finding for finding in report.content.findings}
    for stage, train in (("watch_gd", "gd"), ("watch_sgd", "sgd")):
        finding = titles[f"Linear convergence of training — {stage} (trained by {train})"]
        assert finding.figures and all(name.startswith(stage + "_") for name in finding.figures)
        assert all((report.out / name).exists() for name in finding.figures)


def test_a_single_optimizer_store_keeps_its_plain_layout(tmp_path):
    gd = run_here(pipeline(tmp_path / "gd", "gd", GD))
    assert gd["learning_rate"].dims == ("m", "seed") and gd["reached_step"].dims == ("m", "seed")
    assert "train" not in gd.dims and "trained_by" not in gd.coords and "stage" not in gd["pl_ratio"].attrs


@pytest.mark.parametrize("stages, message", [
    (GD + "  both: {plugins: [loss], needs: [gd, sgd]}\n" + SGD, "measures one training, but this one needs 'gd' and 'sgd'"),
    (GD + "  later: {plugin: sgd, params: {steps: 5, lr: 0.1}, needs: [gd]}\n", "cannot need the optimizer stage 'gd'"),
    ("  lost: {plugins: [loss], needs: [data]}\n" + GD + SGD, "must need one of the optimizer stages 'gd', 'sgd'"),
])
def test_a_diagnostic_must_measure_exactly_one_training(tmp_path, stages, message):
    with pytest.raises(PipelineError, match=message):
        plan_file(pipeline(tmp_path / "bad", "bad", stages))


def counts(log: Path) -> Counter:
    return Counter(tuple(line.split()) for line in log.read_text().splitlines())


def test_a_task_initializes_once_per_member_and_a_worker_generates_once(tmp_path):
    """Width scan of 4 widths × 2 replicas, two trainings each, on one worker process: the data
    of each replica are generated once (not once per width), the weights once per grid point
    (not once per training)."""
    folder = tmp_path / "counted"
    folder.mkdir()
    text = HEAD.format(name="counted").replace("plugin: separable, params: {", "plugin: counted_separable, params: {log: log.txt, ").replace(
        "plugin: paper, params: {", "plugin: counted_paper, params: {log: log.txt, ").replace("m: [16, 24]", "m: [16, 24, 32, 40]")
    path = write_pipeline(folder, "plugins: [counting_plugin]\n" + text + GD + SGD + "store: counted.zarr\n")
    env = {"PYTHONPATH": os.pathsep.join([str(DATA), os.environ.get("PYTHONPATH", "")])}
    out = overparam("run", str(path), "--workers", "1", "--progress", "quiet", env=env)
    assert out.returncode == 0, out.stderr
    found = counts(folder / "log.txt")
    workers = {pid for _, pid in found}
    assert len(workers) == 1
    assert sum(n for (kind, _), n in found.items() if kind == "init") == 8  # 4 widths × 2 replicas
    assert sum(n for (kind, _), n in found.items() if kind == "data") == 2  # one per replica
    plan = out_plan = overparam("plan", str(path), env=env)
    assert plan.returncode == 0, plan.stderr
    assert "2 distinct for 8 jobs, each made once per worker" in out_plan.stdout


def test_a_measurements_draws_depend_on_its_own_stage_not_on_the_others(tmp_path):
    """semi_smoothness draws its W′ from the measuring stage's seed (its name, the grid point's
    replica, the step): a stage added before it leaves its values unchanged, bit for bit."""
    alone = run_here(pipeline(tmp_path / "alone", "alone", GD))
    before = GD.replace("  watch_gd:", "  first: {plugins: [weight_distance], schedule: {at: [0, 12]}, needs: [gd]}\n"
                                       "  watch_gd:")
    added = run_here(pipeline(tmp_path / "added", "added", before))
    steps = alone["step"].values
    for name in ("semi_smoothness_gap", "semi_smoothness_inner"):
        assert same(added[name].sel(step=steps), alone[name]), name
    assert np.isfinite(alone["semi_smoothness_gap"].values).all()


def test_a_training_runs_all_its_steps_whatever_its_diagnostics_measure(tmp_path):
    """A diagnostic measuring at steps 0 and 6 of a 12-step training does not cut it short: f
    is logged at the last step, and reached_step says 12 because 12 steps ran (checked against
    12 plain GD updates with gradients from autograd of a per-sequence loop, tests/reference.py)."""
    import torch
    from reference import autograd_gradient, loop_loss

    from overparam.engine import train

    text = GD.replace("schedule: {at: [0, 6, 12]}", "schedule: {at: [0, 6]}")
    plan = plan_file(pipeline(tmp_path / "short", "short", text))
    job = plan.jobs[0]
    assert job.trainings[0].steps == (0, 6, 12)
    layout = plan.layout
    result = run_ensemble([job], layout)[0]
    assert result.reached_step == (12,)
    problem = job.data.component().generate(job.data.params, job.data.seed)
    weights = job.init.component().initialize(job.init.params, job.weight_layout(), job.init.seed)
    X, Y = problem.X[0], problem.Y[0]
    W, A, B = weights.W[0], weights.A[0], weights.B[0]
    for _ in range(12):
        W = W - job.trainings[0].call.params.lr * autograd_gradient(W, A, B, X, Y)["W"]
    expected = float(loop_loss(W, A, B, X, Y))
    training = job.trainings[0]  # what the task trains on: the logged steps above
    run = train(training.call.component(), training.call.params, weights, problem,
                torch.tensor([training.call.params.lr], dtype=torch.float64), [training.call.seed], training.steps, Elman())
    assert run.steps[-1] == 12
    assert abs(float(run.loss[-1, 0]) - expected) <= 1e-10 * expected
