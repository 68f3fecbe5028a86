"""The linearized twin: the first-order model around W0 against the plain loop's autograd Jacobian,
the optimizer `linearized` trained beside `gd`, and the closed-form twin of `linearization_gap`
against the twin trained step by step."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from overparam import Weights
from overparam.engine import Elman
from plugins.linearized import LinearizedNetwork
from model_cases import close, paper_ensemble
from reference import loop_jacobian, loop_residuals
from scans import write_pipeline


def direction(weights: Weights, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(weights.W.shape, generator=g, dtype=torch.float64) / weights.m ** 0.5


def test_the_linear_model_is_the_first_order_expansion_of_the_plain_network():
    weights, problem = paper_ensemble(Elman(), 2, n=3, L=4, m=16, d_x=3, d=2, seed=1)
    twin = LinearizedNetwork(Elman(), weights, problem, ["W"])
    V = direction(weights, 2)
    for k in range(2):
        W0, A, B, X = weights.W[k], weights.A[k], weights.B[k], problem.X[k]
        J = loop_jacobian(W0, A, B, X)
        for scale in (0.1, 1.0):
            moved = weights.replace(W=weights.W + scale * V)
            ours = twin.forward(moved, problem).residual_members[k, 1:]  # the scored outputs l = 2..L
            r0 = loop_residuals(W0, A, B, X) - problem.Y[k].transpose(0, 1)[1:]
            expected = r0.reshape(-1) + J @ (scale * V[k]).reshape(-1)
            close(ours.reshape(-1), expected)
            # its gradient is J(W0)ᵀ r_lin, whatever W is
            gradient = twin.gradient(moved, problem, ["W"])["W"][k]
            close(gradient.reshape(-1), J.T @ expected)
    # and the network leaves it at second order: halving the step quarters the difference
    gaps = []
    for scale in (0.2, 0.1):
        moved = weights.replace(W=weights.W + scale * V)
        gaps.append(float((Elman().forward(moved, problem).residual_members
                           - twin.forward(moved, problem).residual_members).norm()))
    assert 3.0 < gaps[0] / gaps[1] < 5.0


def test_the_linear_model_refuses_a_problem_it_is_not_anchored_to():
    weights, problem = paper_ensemble(Elman(), 1, n=4, L=3, m=8, d_x=3, d=2, seed=2)
    twin = LinearizedNetwork(Elman(), weights, problem, ["W"])
    with pytest.raises(ValueError, match="full-batch only"):
        twin.gradient(weights, problem.sequences(torch.tensor([[0, 1]])), ["W"])


PIPELINE = """\
name: twin
grid:
  m: [16, 128]
stages:
  data: {plugin: separable, params: {n: 4, L: 4, d_x: 4, d: 2, delta: 0.3}}
  init: {plugin: paper, params: {m: "${grid.m}"}}
  train: {plugin: gd, params: {steps: 60, lr: 0.1/m}, needs: [data, init]}
  twin: {plugin: linearized, params: {steps: 60, lr: 0.1/m}, needs: [data, init]}
  watch: {plugins: [loss, linearization_gap], schedule: {every: 10}, needs: [train]}
  watch_twin: {plugins: [loss, weight_distance], schedule: {every: 10}, needs: [twin]}
store: twin.zarr
"""


def test_the_closed_form_twin_is_the_twin_that_linearized_trains(tmp_path: Path):
    from framework.execution.task import run_ensemble
    from framework.planning.plan import plan_file


    plan = plan_file(write_pipeline(tmp_path, PIPELINE))
    layout = plan.layout
    jobs = list(plan.jobs)
    results = run_ensemble(jobs, layout)
    watch_twin = layout.stages.index("watch_twin")
    final_gaps = []
    for result in results:
        assert result.status == "done", result.error
        trained_twin = result.values["loss"][watch_twin]
        torch.testing.assert_close(torch.tensor(result.values["twin_loss"]), torch.tensor(trained_twin),
                                   rtol=1e-9, atol=0)
        assert (trained_twin[1:] < trained_twin[:-1]).all()
        assert result.values["twin_prediction_gap"][0] < 1e-12 and result.values["twin_loss_gap"][0] < 1e-12  # V Vᵀ = I
        assert result.values["weight_distance_frobenius"][-1] > 0
        final_gaps.append(result.values["twin_prediction_gap"][-1])
    assert final_gaps[1] < final_gaps[0]  # the wider network stays nearer its linearization


def test_the_twin_claim_draws_its_figure_from_a_real_run(tmp_path: Path, dask_client):
    from framework.execution.cluster import ClusterOptions
    from framework.execution.orchestrator import RunOptions, run_plan
    from framework.planning.plan import plan_file
    from framework.report import build_report

    text = PIPELINE.replace("m: [16, 128]", "m: [16, 32, 64]\n  seed: 2")
    summary = run_plan(plan_file(write_pipeline(tmp_path, text)),
                       RunOptions(cluster=ClusterOptions(client=dask_client), progress="quiet"))
    assert summary.ok
    report = build_report(tmp_path / "twin.zarr", tmp_path / "report")
    finding = next(f for f in report.content.findings if f.title.startswith("The network trains as its linearization"))
    assert finding.figures and (tmp_path / "report" / finding.figures[0]).stat().st_size > 10_000
    assert any("max_t ‖r_t − r_lin,t‖/‖r_0‖" in line for line in finding.numbers)


def test_the_twin_gap_is_refused_on_a_training_by_another_rule(tmp_path: Path):
    from framework.configuration.source import PipelineError
    from framework.planning.plan import plan_file

    text = PIPELINE.replace("train: {plugin: gd,", "train: {plugin: sgd,")
    with pytest.raises(PipelineError) as refused:
        plan_file(write_pipeline(tmp_path, text))
    message = str(refused.value)
    assert "stages.watch.plugins" in message and "linearization_gap" in message and "'sgd'" in message
    assert "by gd only" in message
