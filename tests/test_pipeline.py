"""Pipeline semantics against independent computations: the grid is the cartesian product
(itertools), zip pairs axes, ``seed: N`` is 0..N-1, ``${grid.NAME}`` reaches nested parameters,
expressions give the arithmetic; seeds ignore unrelated axes, identical data is computed once,
and one job re-run alone reproduces its numbers bit for bit."""
from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

from framework.execution.task import run_ensemble

from framework.planning.plan import Plan, plan_file, plan_source
from framework.plugin_system.registry import Registry
from framework.configuration.source import read_source

REGISTRY = Registry(autoload=False)


def make_plan(grid: str, data: str = "{plugin: separable, params: {n: 4, L: 3, d_x: 4, d: 2, delta: 0.3}}",
              init: str = '{plugin: paper, params: {m: "${grid.m}"}}',
              train: str = "{plugin: gd, params: {steps: 10, lr: 0.05/m}, needs: [data, init]}") -> Plan:
    text = (f"name: t\nseed: 7\ngrid:\n{grid}\nstages:\n  data: {data}\n  init: {init}\n  train: {train}\n"
            "  diagnose: {plugins: [loss], schedule: {log: 4}, needs: [train]}\n")
    return plan_source(read_source(text, "t.yaml"), REGISTRY)


# --- grids -----------------------------------------------------------------------------------

def test_jobs_are_the_cartesian_product_in_file_order():
    axes = {"m": [16, 32, 64], "seed": [0, 1], "optimizer": ["gd", "sgd"]}
    plan = make_plan("  m: [16, 32, 64]\n  seed: 2\n  optimizer: [gd, sgd]",
                     train='{plugin: "${grid.optimizer}", params: {steps: 10, lr: 0.05/m}, needs: [data, init]}')
    expected = [dict(zip(axes, values)) for values in itertools.product(*axes.values())]
    assert [dict(job.point.values) for job in plan.jobs] == expected
    assert [job.trainings[0].call.name for job in plan.jobs] == [point["optimizer"] for point in expected]
    assert [job.init.params.m for job in plan.jobs] == [point["m"] for point in expected]
    assert [job.point.index for job in plan.jobs] == list(itertools.product(range(3), range(2), range(2)))


def test_zip_pairs_axes_instead_of_crossing_them():
    widths, coefficients = [16, 32, 64], [0.1, 0.02, 0.3]
    plan = make_plan("  m: [16, 32, 64]\n  c: [0.1, 0.02, 0.3]\n  seed: 2\n  zip: [[m, c]]",
                     train="{plugin: gd, params: {steps: 10, lr: c/m}, needs: [data, init]}")
    expected = [(m, c, s) for (m, c), s in itertools.product(zip(widths, coefficients), range(2))]
    assert [(j.point.values["m"], j.point.values["c"], j.point.values["seed"]) for j in plan.jobs] == expected
    assert [j.trainings[0].call.params.lr for j in plan.jobs] == [c / m for m, c, _ in expected]
    assert [dim.name for dim in plan.pipeline.grid.dimensions] == ["m", "seed"]


def test_zipped_axis_after_the_first_may_repeat_values():
    plan = make_plan("  m: [16, 32, 64]\n  c: [0.1, 0.1, 0.2]\n  zip: [[m, c]]",
                     train="{plugin: gd, params: {steps: 10, lr: c/m}, needs: [data, init]}")
    assert [j.point.values["c"] for j in plan.jobs] == [0.1, 0.1, 0.2]


@pytest.mark.parametrize("replicas", [1, 3, 5])
def test_integer_seed_axis_means_replicas_zero_to_n_minus_one(replicas: int):
    plan = make_plan(f"  m: [16]\n  seed: {replicas}")
    assert [job.point.values["seed"] for job in plan.jobs] == list(range(replicas))


def test_grid_reference_substitutes_in_nested_parameters():
    plan = make_plan("  m: [16]\n  tok: [2, 5]\n  q: [2, 3]",
                     data='{plugin: token_map, params: {n: 4, L: 4, vocab: 8, mapping: '
                          '[{token: "${grid.tok}", position: 1, output: 0, at: "${grid.q}"}]}}')
    for job in plan.jobs:
        rule = job.data.params.mapping[0]
        assert (rule.token, rule.at) == (job.point.values["tok"], job.point.values["q"])


def test_grid_reference_inside_an_expression_is_substituted_then_evaluated():
    plan = make_plan("  m: [16, 32]", train='{plugin: gd, params: {steps: 10, lr: "0.5/${grid.m}"}, needs: [data, init]}')
    assert [j.trainings[0].call.params.lr for j in plan.jobs] == [0.5 / 16, 0.5 / 32]


def test_expressions_in_axes_and_data_sizes():
    plan = make_plan("  m: [16, 64]\n  k: [2, 3]",
                     data="{plugin: separable, params: {n: 4, L: 2*k, d_x: 4, d: 2, delta: 0.3}}",
                     train="{plugin: gd, params: {steps: 3*L + 1, lr: 0.05/m}, needs: [data, init]}")
    for job in plan.jobs:
        m, k = job.point.values["m"], job.point.values["k"]
        assert job.data.params.L == 2 * k and isinstance(job.data.params.L, int)
        assert job.trainings[0].call.params.steps == 3 * (2 * k) + 1
        assert job.trainings[0].call.params.lr == 0.05 / m


# --- seeds and sharing -----------------------------------------------------------------------

def generate(call):
    """A generator call computed afresh (no cache between two calls)."""
    return call.component().generate(call.params, call.seed)


def test_changing_the_width_axis_leaves_each_replicas_data_unchanged():
    narrow = make_plan("  m: [16, 32]\n  seed: 2")
    wide = make_plan("  m: [64, 128, 256]\n  seed: 2")
    for replica in range(2):
        seeds = {job.data.seed for plan in (narrow, wide) for job in plan.jobs if job.point.values["seed"] == replica}
        assert len(seeds) == 1
        problems = [generate(job.data) for plan in (narrow, wide) for job in plan.jobs
                    if job.point.values["seed"] == replica]
        assert all(torch.equal(p.X, problems[0].X) and torch.equal(p.Y, problems[0].Y) for p in problems)
    first, second = (generate(job.data) for job in narrow.jobs[:2])
    assert not torch.equal(first.X, second.X)  # replicas draw different data


def test_identical_data_across_widths_is_computed_once():
    plan = make_plan("  delta: [0.1, 0.2]\n  m: [16, 32, 64]\n  seed: 2",
                     data='{plugin: separable, params: {n: 4, L: 3, d_x: 4, d: 2, delta: "${grid.delta}"}}')
    points = [job.point.values for job in plan.jobs]
    distinct_data = len({(p["delta"], p["seed"]) for p in points})
    distinct_init = len({(p["m"], p["seed"]) for p in points})
    assert plan.sharing()["data"] == (distinct_data, len(points)) == (4, 12)
    assert plan.sharing()["init"] == (distinct_init, len(points)) == (6, 12)
    assert plan.sharing()["train"] == (12, 12)  # same lr and seed, different data: not shared


def test_weights_of_one_seed_for_data_of_other_sizes_are_not_shared():
    plan = make_plan("  m: [16]\n  vocab: [6, 8]", data='{plugin: token_map, params: {n: 4, vocab: "${grid.vocab}"}}')
    assert plan.jobs[0].init.key() == plan.jobs[1].init.key()
    assert plan.sharing()["init"] == (2, 2)  # d_x = vocab + 1 differs


# --- re-running one job ----------------------------------------------------------------------

REPRODUCE = """\
name: reproduce
seed: 3
grid:
  m: [8, 12]
  seed: 2
  optimizer: [gd, sgd]
stages:
  data: {plugin: separable, params: {n: 3, L: 3, d_x: 4, d: 2, delta: 0.3}}
  init: {plugin: paper, params: {m: "${grid.m}"}}
  train: {plugin: "${grid.optimizer}", params: {steps: 6, lr: 0.05/m}, needs: [data, init]}
  diagnose:
    plugins: [loss, pl_ratio, weight_distance, dprime_sparsity, forward_norms]
    schedule: {every: 2}
    needs: [train]
  perturb: {plugins: [{semi_smoothness: {tau: 0.5}}], schedule: {at: [0, 6]}, needs: [train]}
  summary: {plugins: [rate], needs: [train]}
"""


def test_one_job_rerun_alone_from_a_fresh_plan_is_bit_identical(tmp_path: Path):
    path = tmp_path / "reproduce.yaml"
    path.write_text(REPRODUCE)
    results = []
    for _ in range(2):
        plan = plan_file(path)
        job = next(j for j in plan.jobs if j.point.values == {"m": 12, "seed": 1, "optimizer": "sgd"})
        (result,) = run_ensemble([job], plan.layout)
        results.append(result)
    first, again = results
    assert first.status == again.status == "done"
    assert first.values.keys() == again.values.keys() and "semi_smoothness_gap" in first.values
    assert np.isfinite(first.values["loss"]).all()  # logged steps 0, 2, 4, 6
    assert np.isfinite(first.values["semi_smoothness_gap"][[0, -1]]).all()  # its own steps 0 and 6
    for name, array in first.values.items():
        assert np.array_equal(array, again.values[name], equal_nan=True), name


# --- generator shapes ------------------------------------------------------------------------

SKLEARN_MISSING = "scikit-learn is not installed (an optional dependency: pip install 'overparam[digits]')"
GENERATOR_PARAMS = {
    "separable": [{}, {"n": 3, "L": 5, "d_x": 6, "d": 1}],
    "token_map": [{}, {"n": 5, "L": 3, "vocab": 6, "outputs": 2}],
    "digits": [{"n": 7}, {"n": 4, "targets": "all"}],
}


def test_every_builtin_generator_has_shape_cases():
    assert set(REGISTRY.names("generator")) <= set(GENERATOR_PARAMS)


@pytest.mark.parametrize("name,params", [(name, p) for name, cases in GENERATOR_PARAMS.items() for p in cases])
def test_generator_shape_equals_the_generated_problem(name: str, params: dict):
    if name == "digits":
        pytest.importorskip("sklearn.datasets", reason=SKLEARN_MISSING, exc_type=ImportError)
    component = REGISTRY.get("generator", name)
    parsed = component.parse_params(params)
    problem = component().generate(parsed, seed=1)
    n, L, d_x, d = component().shape(parsed)
    assert tuple(problem.X.shape) == (1, n, L, d_x)
    assert tuple(problem.Y.shape) == (1, n, L, d)


@pytest.mark.parametrize("optimizer", ["gd", "sgd"])
def test_one_job_rerun_alone_matches_its_numbers_from_a_pack(optimizer: str):
    """A scan trains grid points of one shape together; a job re-run alone gives the same bits."""
    plan = plan_source(read_source(REPRODUCE, "reproduce.yaml"))
    layout = plan.layout
    pack = [j for j in plan.jobs if j.point.values["optimizer"] == optimizer and j.point.values["m"] == 12]
    packed = run_ensemble(pack, layout)
    for job, in_pack in zip(pack, packed):
        (alone,) = run_ensemble([job], layout)
        assert alone.status == in_pack.status == "done"
        for name, array in alone.values.items():
            assert np.array_equal(array, in_pack.values[name], equal_nan=True), name
