"""The built-in `stacked_elman` model: S ReLU Elman layers, each with its own recurrent matrix W_s,
the lower layer's hidden states the upper one's inputs through U_s. Its closed forms must equal
autograd on a plainly written forward pass in float64 over hypothesis-drawn shapes, a member of
an ensemble must compute bit for bit what it computes alone, and it runs in a pipeline."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from overparam import Forward, Network, Problem, Weights
from overparam.engine import Elman, elman_weights
from overparam.testing import check_component
from plugins.stacked_elman import StackedElman, StackedParams
from model_cases import (assert_closed_forms_equal_autograd, assert_tangent_equals_autograd, close,
                         paper_ensemble)
from scans import write_pipeline

TRAINED = st.sampled_from([("W",), ("A",), ("U",), ("B",), ("W", "U"), ("W", "A", "U", "B")])


class PlainStackedElman(Network):
    """The stacked network written plainly, time step by time step and level by level, nothing
    but its forward pass (an independent implementation; autograd gives the rest)."""

    def forward(self, weights, problem):
        S = weights.W.shape[1]
        states = [problem.X.new_zeros(problem.K, problem.rows, weights.m) for _ in range(S)]
        gs, hs, outputs = [[] for _ in range(S)], [[] for _ in range(S)], []
        for l in range(problem.L):
            below = problem.X[:, :, l] @ weights.A.mT
            for s in range(S):
                g = states[s] @ weights.W[:, s].mT + below
                states[s] = torch.relu(g)
                gs[s].append(g)
                hs[s].append(states[s])
                below = states[s] @ weights.U[:, s].mT if s < S - 1 else None
            outputs.append(states[-1] @ weights.B.mT - problem.Y[:, :, l])
        residual = torch.stack(outputs, dim=1)  # [K, L, n, d]
        keep = (torch.arange(problem.L) > 0).to(residual.dtype).view(1, -1, 1, 1)  # f leaves out l = 1 (§2.2)
        return Forward(torch.stack([g for level in gs for g in level]), torch.stack([h for level in hs for h in level]),
                       residual * keep)


def network(stack: int) -> StackedElman:
    return StackedElman(StackedParams(stack=stack))


def ensemble(K, n, L, stack, m, d_x, d, seed) -> tuple[Weights, Problem]:
    return paper_ensemble(network(stack), K, n, L, m, d_x, d, seed)


SHAPES = dict(K=st.integers(1, 3), n=st.integers(1, 3), L=st.integers(1, 4), stack=st.integers(2, 3),
              m=st.integers(1, 8), d_x=st.integers(1, 3), d=st.integers(1, 3), seed=st.integers(0, 2**16))


@settings(max_examples=40, deadline=None)
@given(trained=TRAINED, **SHAPES)
def test_closed_form_gradient_pullback_and_sequence_norms_equal_autograd(trained, K, n, L, stack, m, d_x, d, seed):
    weights, problem = ensemble(K, n, L, stack, m, d_x, d, seed)
    u = torch.randn(K, L, n, d, dtype=torch.float64, generator=torch.Generator().manual_seed(seed + 1))
    u[:, 0] = 0  # layer 1 is no output of the loss (§2.2)
    assert_closed_forms_equal_autograd(network(stack), PlainStackedElman(), weights, problem, trained, u)


@settings(max_examples=40, deadline=None)
@given(trained=TRAINED, **SHAPES)
def test_closed_form_tangent_equals_forward_mode_autograd(trained, K, n, L, stack, m, d_x, d, seed):
    weights, problem = ensemble(K, n, L, stack, m, d_x, d, seed)
    assert_tangent_equals_autograd(network(stack), PlainStackedElman(), weights, problem, trained, seed + 2)


def test_with_the_upper_levels_switched_off_it_is_the_elman_network():
    """With U = 0 the upper levels get no input and stay at zero, and the lowest level is the
    Elman network of §2.1 with W_1 and A."""
    weights, problem = ensemble(2, 3, 4, 2, 6, 3, 2, seed=3)
    lowest = network(2).forward(weights.replace(U=torch.zeros_like(weights.U)), problem)
    alone = Elman().forward(elman_weights(weights.W[:, 0].contiguous(), weights.A, weights.B), problem)
    close(lowest.h_layers[:4], alone.h_layers)
    assert torch.equal(lowest.h_layers[4:], torch.zeros_like(lowest.h_layers[4:]))


def test_a_member_of_an_ensemble_computes_bit_for_bit_what_it_computes_alone():
    weights, problem = ensemble(3, 4, 5, 3, 20, 4, 2, seed=8)
    net = network(3)
    together = net.gradient(weights, problem, ("W", "A", "U", "B"))
    norms = net.sequence_gradient_norms(weights, problem, ("W",))
    for k in range(3):
        alone = net.gradient(weights.member(k), problem.member(k), ("W", "A", "U", "B"))
        assert all(torch.equal(together[name][k : k + 1], alone[name]) for name in alone)
        assert torch.equal(norms[k : k + 1], net.sequence_gradient_norms(weights.member(k), problem.member(k), ("W",)))


def test_the_model_passes_its_contract_check():
    assert check_component(StackedElman) == []


PIPELINE = """\
name: stacked
grid:
  m: [16, 24]
stages:
  net: {plugin: stacked_elman, params: {stack: 2}}
  data: {plugin: separable, params: {n: 4, L: 3, d_x: 5, d: 2, delta: 0.3}}
  init: {plugin: paper, params: {m: "${grid.m}"}, needs: [net]}
  train: {plugin: gd, params: {steps: 40, lr: 0.01}, needs: [data, init]}
  diagnose: {plugins: [loss, pl_ratio, forward_norms, weight_distance], schedule: {at: [0, 40]}, needs: [train]}
store: stacked.zarr
"""


def test_stacked_elman_runs_in_a_pipeline_and_stores_its_loss_as_the_plain_forward(tmp_path: Path) -> None:
    from framework.execution.task import run_ensemble
    from framework.planning.plan import plan_file


    plan = plan_file(write_pipeline(tmp_path, PIPELINE))
    jobs = list(plan.jobs)
    assert [job.shape.layers for job in jobs] == [6, 6]
    results = run_ensemble(jobs, plan.layout)
    for job, result in zip(jobs, results):
        assert result.status == "done", result.error
        problem = job.data.component().generate(job.data.params, job.data.seed)
        weights = job.init.component().initialize(job.init.params, job.weight_layout(), job.init.seed)
        f = PlainStackedElman().loss(weights, problem)
        assert result.values["loss"][0] == pytest.approx(float(f), rel=1e-12)
        assert result.values["loss"][-1] < result.values["loss"][0]
        assert result.values["h_norm_max"].shape[-1] == 6


def test_pl_ratio_and_weight_distance_equal_autograd_and_matrix_norms_over_every_level():
    """The diagnostics of §5 on the stacked network read all of W_1..W_S: the PL ratio is
    autograd's ||∇_W f||² (and per-sequence maximum) over m f, the distance the largest level's
    spectral norm of W_s - W_s0."""
    from overparam import Probe
    from plugins.diagnostics import PLRatio, WeightDistance

    initial, problem = ensemble(2, 3, 4, 3, 10, 3, 2, seed=5)
    g = torch.Generator().manual_seed(1)
    weights = initial.replace(W=initial.W + 0.2 * torch.randn(initial.W.shape, generator=g, dtype=torch.float64) / 10**0.5)
    probe = Probe(weights, initial, problem, network=network(3))
    pl = PLRatio().measure(PLRatio.parse_params({}), probe)
    distance = WeightDistance().measure(WeightDistance.parse_params({}), probe)
    plain = PlainStackedElman()
    for k in range(2):
        member, data = weights.member(k), problem.member(k)
        f = plain.loss(member, data)
        gradient = plain.gradient(member, data, ("W",))["W"]
        assert pl["pl_ratio"][k].item() == pytest.approx((gradient.square().sum() / (10 * f)).item(), rel=1e-10)
        per_sequence = [plain.gradient(member, Problem(data.X[:, i : i + 1], data.Y[:, i : i + 1], data.delta),
                                       ("W",))["W"].square().sum() for i in range(3)]
        assert pl["pl_ratio_sequence_max"][k].item() == pytest.approx((max(per_sequence) / (10 * f)).item(), rel=1e-10)
    spectral = torch.linalg.matrix_norm(weights.W - initial.W, ord=2).amax(dim=1)
    torch.testing.assert_close(distance["weight_distance_spectral"], spectral, rtol=1e-9, atol=0)
