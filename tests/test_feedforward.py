"""The built-in `feedforward` model, the deep ReLU network of the companion paper ("A Convergence
Theory for Deep Learning via Over-Parameterization"): h_0 = relu(A x), h_l = relu(W_l h_{l-1}),
y = B h_depth. Its closed forms must equal autograd on a plainly written forward pass in
float64 over hypothesis-drawn shapes; every diagnostic that applies to it must equal a brute
force over samples and layers; it runs in a pipeline, and validation refuses what it cannot serve."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from overparam import Forward, Network, Probe, Problem, Weights
from overparam.testing import check_component
from framework.configuration.source import PipelineError
from plugins.diagnostics import DPrimeSparsity, ForwardNorms, PerturbationNorms, PLRatio, SemiSmoothness, WeightDistance
from plugins.feedforward import Feedforward, FeedforwardParams
from plugins.initializers import PaperInitialization
from model_cases import assert_closed_forms_equal_autograd, assert_tangent_equals_autograd, paper_ensemble
from scans import write_pipeline

TRAINED = st.sampled_from([("W",), ("A",), ("B",), ("W", "A"), ("W", "A", "B")])


class PlainFeedforward(Network):
    """The network written plainly, one matrix product per layer, nothing but its forward pass:
    autograd gives every other product (an independent implementation)."""

    def forward(self, weights, problem):
        g = problem.X[:, :, 0] @ weights.A.mT
        gs, hs = [g], [torch.relu(g)]
        for layer in range(weights.W.shape[1]):
            g = hs[-1] @ weights.W[:, layer].mT
            gs.append(g)
            hs.append(torch.relu(g))
        residual = hs[-1] @ weights.B.mT - problem.Y[:, :, -1]
        return Forward(torch.stack(gs), torch.stack(hs), residual.unsqueeze(1))


def network(depth: int) -> Feedforward:
    return Feedforward(FeedforwardParams(depth=depth))


def ensemble(K, n, L, depth, m, d_x, d, seed) -> tuple[Weights, Problem]:
    return paper_ensemble(network(depth), K, n, L, m, d_x, d, seed)


SHAPES = dict(K=st.integers(1, 3), n=st.integers(1, 4), L=st.integers(1, 3), depth=st.integers(1, 4),
              m=st.integers(1, 10), d_x=st.integers(1, 4), d=st.integers(1, 3), seed=st.integers(0, 2**16))


@settings(max_examples=40, deadline=None)
@given(trained=TRAINED, **SHAPES)
def test_closed_form_gradient_pullback_and_sequence_norms_equal_autograd(trained, K, n, L, depth, m, d_x, d, seed):
    weights, problem = ensemble(K, n, L, depth, m, d_x, d, seed)
    u = torch.randn(K, 1, n, d, dtype=torch.float64, generator=torch.Generator().manual_seed(seed + 1))
    assert_closed_forms_equal_autograd(network(depth), PlainFeedforward(), weights, problem, trained, u)


@settings(max_examples=40, deadline=None)
@given(trained=TRAINED, **SHAPES)
def test_closed_form_tangent_equals_forward_mode_autograd(trained, K, n, L, depth, m, d_x, d, seed):
    weights, problem = ensemble(K, n, L, depth, m, d_x, d, seed)
    assert_tangent_equals_autograd(network(depth), PlainFeedforward(), weights, problem, trained, seed + 2)


def test_a_member_of_an_ensemble_computes_bit_for_bit_what_it_computes_alone():
    weights, problem = ensemble(3, 5, 2, 3, 24, 4, 2, seed=4)
    net = network(3)
    together = net.gradient(weights, problem, ("W", "A", "B"))
    direction = {"W": weights.W.flip(0)}
    tangent = net.tangent(weights, problem, direction)
    for k in range(3):
        alone = net.gradient(weights.member(k), problem.member(k), ("W", "A", "B"))
        assert all(torch.equal(together[name][k : k + 1], alone[name]) for name in alone)
        assert torch.equal(tangent[k : k + 1],
                           net.tangent(weights.member(k), problem.member(k), {"W": direction["W"][k : k + 1]}))


def test_paper_initialization_draws_each_layer_and_the_readout_as_the_companion_paper():
    """W_l, A ~ N(0, 2/m) and B ~ N(0, 1/d), drawn W_1..W_depth, A, B from the seed's stream;
    and at large m the empirical variances are those."""
    depth, m, d_x, d = 3, 6, 4, 2
    weights = PaperInitialization().initialize(PaperInitialization.parse_params({"m": m}),
                                               network(depth).weight_layout(m, d_x, d), seed=7)
    stream = torch.Generator().manual_seed(7)
    W = torch.randn(depth, m, m, generator=stream, dtype=torch.float64) * math.sqrt(2 / m)
    A = torch.randn(m, d_x, generator=stream, dtype=torch.float64) * math.sqrt(2 / m)
    B = torch.randn(d, m, generator=stream, dtype=torch.float64) * math.sqrt(1 / d)
    assert torch.equal(weights.W[0], W) and torch.equal(weights.A[0], A) and torch.equal(weights.B[0], B)
    wide = PaperInitialization().initialize(PaperInitialization.parse_params({"m": 400}),
                                            network(2).weight_layout(400, 3, 5), seed=1)
    assert wide.W.var().item() == pytest.approx(2 / 400, rel=0.02)
    assert wide.B.var().item() == pytest.approx(1 / 5, rel=0.05)


def test_forward_norms_at_initialization_stay_near_one_at_every_layer():
    """The companion paper's forward bound at random initialization: ||h_l|| is within a constant of
    ||x|| = 1 at every layer with high probability, for depth far below m."""
    weights, problem = ensemble(1, 6, 1, 8, 1024, 5, 2, seed=0)
    h = network(8).forward(weights, problem).h_layers.norm(dim=-1)  # [depth + 1, K, n]
    assert h.min().item() > 0.5 and h.max().item() < 2.0


def test_the_model_passes_its_contract_check():
    assert check_component(Feedforward) == []


# --- diagnostics on the feed-forward network, against brute force --------------------------

DEPTH, M = 3, 12


def moved_state() -> tuple[Weights, Weights, Problem]:
    """Weights some way from their initialization, so that patterns flip and distances are nonzero."""
    initial, problem = ensemble(2, 4, 2, DEPTH, M, 3, 2, seed=11)
    g = torch.Generator().manual_seed(3)
    weights = initial.replace(W=initial.W + 0.3 * torch.randn(initial.W.shape, generator=g, dtype=torch.float64) / M**0.5)
    return weights, initial, problem


def by_hand(W, A, x):
    """g_l and h_l of one network on one input, one matrix-vector product per layer."""
    g = [A @ x]
    for layer in range(W.shape[0]):
        g.append(W[layer] @ torch.relu(g[-1]))
    return g, [torch.relu(v) for v in g]


def probe(weights, initial, problem, **options) -> Probe:
    return Probe(weights, initial, problem, network=network(DEPTH), **options)


def measured(diagnostic_class, state, **params) -> dict[str, torch.Tensor]:
    return dict(diagnostic_class().measure(diagnostic_class.parse_params(params), probe(*state)))


def test_forward_norms_dprime_and_perturbations_equal_loops_over_inputs_and_layers():
    weights, initial, problem = state = moved_state()
    norms = measured(ForwardNorms, state)
    flips, moved = measured(DPrimeSparsity, state), measured(PerturbationNorms, state)
    for k in range(2):
        now = [by_hand(weights.W[k], weights.A[k], problem.X[k, i, 0]) for i in range(problem.n)]
        then = [by_hand(initial.W[k], initial.A[k], problem.X[k, i, 0]) for i in range(problem.n)]
        for layer in range(DEPTH + 1):
            h = [now[i][1][layer].norm() for i in range(problem.n)]
            g = [now[i][0][layer].norm() for i in range(problem.n)]
            assert norms["h_norm_max"][k, layer] == pytest.approx(max(h).item(), rel=1e-12)
            assert norms["g_norm_min"][k, layer] == pytest.approx(min(g).item(), rel=1e-12)
            changed = [int(((now[i][0][layer] >= 0) != (then[i][0][layer] >= 0)).sum()) for i in range(problem.n)]
            assert flips["dprime_by_layer"][k, layer].item() == max(changed)
            h_moved = max((now[i][1][layer] - then[i][1][layer]).norm().item() for i in range(problem.n))
            assert moved["h_perturbation"][k, layer].item() == pytest.approx(h_moved, rel=1e-12, abs=1e-15)
    assert flips["dprime_max"].sum() > 0  # the test would not notice a count that is always zero


def test_pl_ratio_is_the_autograd_gradient_over_every_layer_against_m_f():
    weights, initial, problem = state = moved_state()
    out = measured(PLRatio, state)
    for k in range(2):
        W = weights.W[k].clone().requires_grad_(True)
        losses = []
        for i in range(problem.n):
            _, h = by_hand(W, weights.A[k], problem.X[k, i, 0])
            losses.append(0.5 * (weights.B[k] @ h[-1] - problem.Y[k, i, -1]).square().sum())
        f = sum(losses)
        (gradient,) = torch.autograd.grad(f, W, retain_graph=True)
        assert out["pl_ratio"][k].item() == pytest.approx((gradient.square().sum() / (M * f)).item(), rel=1e-10)
        per_sequence = [torch.autograd.grad(loss, W, retain_graph=True)[0].square().sum() for loss in losses]
        assert out["pl_ratio_sequence_max"][k].item() == pytest.approx((max(per_sequence) / (M * f)).item(), rel=1e-10)


def test_weight_distance_is_the_largest_layers_spectral_norm_and_the_whole_frobenius_norm():
    weights, initial, _ = state = moved_state()
    out = measured(WeightDistance, state)
    moved = weights.W - initial.W
    spectral = torch.linalg.matrix_norm(moved, ord=2).amax(dim=1)
    torch.testing.assert_close(out["weight_distance_spectral"], spectral, rtol=1e-9, atol=0)
    torch.testing.assert_close(out["weight_distance_frobenius"], moved.flatten(1).norm(dim=1), rtol=1e-12, atol=0)


def test_semi_smoothness_perturbs_every_layer_to_spectral_norm_tau_over_root_m():
    weights, initial, problem = state = moved_state()
    diagnostic = SemiSmoothness()
    params = SemiSmoothness.parse_params({"tau": 0.5})
    shift = diagnostic.perturbation(params, probe(*state, seed=[1, 2]))
    torch.testing.assert_close(torch.linalg.matrix_norm(shift, ord=2),
                               torch.full((2, DEPTH), 0.5 / M**0.5, dtype=torch.float64), rtol=1e-12, atol=0)
    out = diagnostic.measure(params, probe(*state, seed=[1, 2]))
    plain = PlainFeedforward()
    f, f_moved = plain.loss(weights, problem), plain.loss(weights.replace(W=weights.W + shift), problem)
    W = weights.W.clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(plain.loss(weights.replace(W=W), problem).sum(), W)
    gap = f_moved - f - (gradient * shift).flatten(1).sum(dim=1)
    torch.testing.assert_close(out["semi_smoothness_gap"], gap, rtol=1e-8, atol=1e-14)


# --- in a pipeline ---------------------------------------------------------------------------

PIPELINE = """\
name: feedforward-model
grid:
  m: [16, 32]
stages:
  net: {{plugin: feedforward, params: {{depth: 3}}}}
  data: {{plugin: separable, params: {{n: 5, L: 1, d_x: 6, d: 2, delta: 0.3}}}}
  init: {{plugin: {init}, params: {{m: "${{grid.m}}"}}, needs: [net]}}
  train: {{plugin: gd, params: {{steps: 30, lr: 0.02}}, needs: [data, init]}}
  diagnose: {{plugins: [{diagnostics}], schedule: {{at: [0, 30]}}, needs: [train]}}
store: ff.zarr
"""


def test_feedforward_runs_in_a_pipeline_and_its_stored_values_are_the_brute_forces(tmp_path: Path) -> None:
    from framework.execution.task import run_ensemble
    from framework.planning.plan import plan_file


    text = PIPELINE.format(init="paper", diagnostics="loss, pl_ratio, forward_norms, dprime_sparsity, weight_distance")
    plan = plan_file(write_pipeline(tmp_path, text))
    jobs = list(plan.jobs)
    assert [job.shape.layers for job in jobs] == [4, 4]
    results = run_ensemble(jobs, plan.layout)
    for job, result in zip(jobs, results):
        assert result.status == "done", result.error
        problem = job.data.component().generate(job.data.params, job.data.seed)
        weights = job.init.component().initialize(job.init.params, job.weight_layout(), job.init.seed)
        f = sum(0.5 * (weights.B[0] @ by_hand(weights.W[0], weights.A[0], problem.X[0, i, 0])[1][-1]
                       - problem.Y[0, i, -1]).square().sum() for i in range(problem.n))
        assert result.values["loss"][0] == pytest.approx(float(f), rel=1e-12)
        assert result.values["loss"][-1] < result.values["loss"][0]
        assert result.values["h_norm_max"].shape[-1] == 4
        assert result.values["weight_distance_frobenius"][0] == 0


def test_what_the_feedforward_network_cannot_serve_is_refused_naming_both(tmp_path: Path) -> None:
    from framework.planning.plan import plan_file

    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
    with pytest.raises(PipelineError) as refused:
        plan_file(write_pipeline(tmp_path / "a", PIPELINE.format(init="paper", diagnostics="loss, chain_norms")))
    assert "diagnostic 'chain_norms' needs" in str(refused.value)
    assert "model 'feedforward' does not provide (it provides layers)" in str(refused.value)
    with pytest.raises(PipelineError) as refused:
        plan_file(write_pipeline(tmp_path / "b", PIPELINE.format(init="orthogonal", diagnostics="loss")))
    assert "initializer 'orthogonal' draws W [m, m]" in str(refused.value)
    assert "model 'feedforward' has the weights W [depth, m, m], A [m, d_x], B [d, m]" in str(refused.value)


def test_a_report_of_a_feedforward_store_cites_the_companion_papers_statements(tmp_path: Path) -> None:
    """The model's own statements (``Model.statements``) replace the recurrent paper's in the
    report of a store that trained it, figure titles included; a store of the Elman network
    keeps the paper's."""
    from framework.execution.task import run_ensemble
    from framework.planning.plan import plan_file
    from framework.report import build_report

    from framework.storage.store import Store

    reports = {}
    for model in ("feedforward", "elman"):
        folder = tmp_path / model
        folder.mkdir()
        text = PIPELINE.format(init="paper", diagnostics="loss, dprime_sparsity")
        if model == "elman":
            text = text.replace("  net: {plugin: feedforward, params: {depth: 3}}\n", "").replace(", needs: [net]", "")
        path = write_pipeline(folder, text.replace("m: [16, 32]", "m: [16, 32]\n  seed: 3"))
        plan = plan_file(path)
        layout = plan.layout
        store = Store.prepare(folder / "store.zarr", layout, plan.pipeline)
        store.write(run_ensemble(list(plan.jobs), layout))
        reports[model] = build_report(folder / "store.zarr", folder / "report")
    statement, reference = Feedforward.statements["relu_sign_flips"][1], Feedforward.statements["relu_sign_flips"][0]
    text = (tmp_path / "feedforward" / "report" / "report.md").read_text()
    assert statement in text and f"Few ReLU signs flip during training ({reference})" in text
    titles = {f.title: f.paper_ref for f in reports["feedforward"].content.findings}
    assert titles["Linear convergence of training"] == Feedforward.statements["linear_convergence"][0]
    elman = {f.title: (f.paper_ref, f.statement) for f in reports["elman"].content.findings}
    assert elman["Few ReLU signs flip during training"][0] == "(5.1)"
    assert statement not in (tmp_path / "elman" / "report" / "report.md").read_text()
