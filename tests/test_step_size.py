"""Learning rates from the tangent kernel (``lr: auto``), against autograd's Jacobian."""
from __future__ import annotations

import pytest
import torch

from conftest import make_problem, make_weights
from overparam.engine import Elman, log_schedule, train
from framework.engine.rnn import residual_tangent
from framework.engine.step_size import kernel_top_eigenvalue
from framework.execution.task import run_ensemble

from framework.planning.plan import plan_file
from framework.configuration.source import PipelineError
from plugins.optimizers import GradientDescent
from scans import write_pipeline


def residuals(W, A, B, X, Y):
    """loss_{i,l} = B h_{i,l} - y*_{i,l} for l >= 2, one sequence at a time (§2.1-2.2), flattened."""
    n, L, _ = X.shape
    rows = []
    for i in range(n):
        h = torch.zeros(W.shape[0], dtype=W.dtype)
        for layer in range(L):
            h = torch.relu(W @ h + A @ X[i, layer])
            if layer >= 1:
                rows.append(B @ h - Y[i, layer])
    return torch.cat(rows)


def small_state(seed: int = 0):
    problem = make_problem(seed, n=3, L=4, d_x=3, d=2, delta=0.2)
    weights = make_weights(10, 3, 2, seed=seed)
    return weights, problem


@pytest.mark.parametrize("names", [("W",), ("A",), ("B",), ("W", "A", "B")])
def test_residual_tangent_equals_autograd_jacobian_vector_product(names):
    weights, problem = small_state(1)
    g = torch.Generator().manual_seed(3)
    direction = {name: torch.randn(getattr(weights, name).shape, generator=g, dtype=torch.float64) for name in names}
    ours = residual_tangent(weights, problem, direction)[0, 1:]  # layers l >= 2, [L-1, n, d]
    primals = tuple(getattr(weights, n)[0] for n in "WAB")
    tangents = tuple(direction[n][0] if n in direction else torch.zeros_like(p) for n, p in zip("WAB", primals))
    _, expected = torch.func.jvp(lambda W, A, B: residuals(W, A, B, problem.X[0], problem.Y[0]), primals, tangents)
    torch.testing.assert_close(ours.transpose(0, 1).reshape(-1), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("trained", [("W",), ("W", "A", "B")])
def test_kernel_top_eigenvalue_is_that_of_the_autograd_jacobian(trained):
    weights, problem = small_state(2)
    primals = {n: getattr(weights, n)[0] for n in "WAB"}

    def of_trained(*values):
        chosen = {**primals, **dict(zip(trained, values))}
        return residuals(chosen["W"], chosen["A"], chosen["B"], problem.X[0], problem.Y[0])

    jacobians = torch.autograd.functional.jacobian(of_trained, tuple(primals[n] for n in trained))
    J = torch.cat([j.reshape(j.shape[0], -1) for j in jacobians], dim=1)
    expected = torch.linalg.eigvalsh(J @ J.T)[-1]
    measured = kernel_top_eigenvalue(weights, problem, trained, [torch.Generator().manual_seed(0)], Elman(), iterations=400)
    assert measured.item() == pytest.approx(expected.item(), rel=1e-8)


def test_gd_at_half_the_edge_of_stability_descends_monotonically(paper_problem):
    weights = make_weights(128, 8, 4, seed=4)
    lam = kernel_top_eigenvalue(weights, paper_problem, ("W",), [torch.Generator().manual_seed(1)], Elman())
    optimizer = GradientDescent()
    params = optimizer.parse_params({"steps": 200, "lr": 1.0})
    run = train(optimizer, params, weights, paper_problem, 1.0 / lam, [0], log_schedule(200, 20), Elman())
    f = run.loss[:, 0]
    assert torch.all(f[1:] <= f[:-1]) and f[-1] < 0.2 * f[0]


AUTO = """\
name: auto-lr
grid:
  seed: 2
  fraction: [0.25, 0.5]
stages:
  data: {plugin: separable, params: {n: 8, L: 6, d_x: 4, d: 2, delta: 0.2}}
  init: {plugin: paper, params: {m: 32}}
  train: {plugin: gd, params: {steps: 100, lr: auto, lr_fraction: "${grid.fraction}"}, needs: [data, init]}
  diagnose: {plugins: [loss], schedule: {log: 8}, needs: [train]}
"""


def test_lr_auto_in_a_pipeline_takes_its_fraction_of_two_over_lambda_max(tmp_path):
    plan = plan_file(write_pipeline(tmp_path, AUTO))
    layout = plan.layout
    jobs = list(plan.jobs)
    results = run_ensemble(jobs, layout)
    assert all(r.status == "done" for r in results)
    by_point = {job.point.values["seed"]: {} for job in jobs}
    for job, result in zip(jobs, results):
        by_point[job.point.values["seed"]][job.point.values["fraction"]] = result.learning_rate[0]
        assert result.values["loss"][-1] < result.values["loss"][0]
    for rates in by_point.values():  # same data and weights: the rate is proportional to the fraction
        assert rates[0.5] == pytest.approx(2 * rates[0.25], rel=1e-12)
    job = jobs[0]
    problem = job.data.component().generate(job.data.params, job.data.seed)
    weights = job.init.component().initialize(job.init.params, job.weight_layout(), job.init.seed)
    lam = kernel_top_eigenvalue(weights, problem, ("W",), [torch.Generator().manual_seed(9)], Elman(), iterations=400)
    assert results[0].learning_rate[0] == pytest.approx(job.point.values["fraction"] * 2 / lam.item(), rel=1e-3)


def test_a_misspelt_auto_is_refused_naming_the_key(tmp_path):
    with pytest.raises(PipelineError, match=r"stages\.train\.params\.lr"):
        plan_file(write_pipeline(tmp_path, AUTO.replace("lr: auto", "lr: automatic")))
