"""The infinite-width tangent kernel of the Elman network at Definition 2.3's initialization: the
arc-cosine formulas against Gaussian sampling, the recursion against the average kernel of many
independent networks, the deviation's m^(-1/2) shrinking, and the kernel's prediction of GD (its
loss, its steps to target, Arora et al.'s r_0ᵀ(η m K_∞)^{-1}r_0) against GD on the linear model
stepped one step at a time and against a direct solve."""
from __future__ import annotations

import math

import pytest
import torch

from overparam import Probe, Problem
from overparam.engine import Elman, TangentKernel
from plugins.diagnostics import KernelDeviation, KernelPrediction, KernelSpeed, LinearizationGap
from plugins.diagnostics.kernel_limit import arc_cosine_0, arc_cosine_1, limit_kernel
from plugins.diagnostics.kernel_speed import first_step_at_or_below
from model_cases import paper_ensemble

n, L, d_x, d = 3, 4, 3, 2


def shared_data(K: int, seed: int = 99) -> Problem:
    """One problem (unit inputs) given to each of K networks."""
    _, one = paper_ensemble(Elman(), 1, n=n, L=L, m=8, d_x=d_x, d=d, seed=seed)
    return Problem(one.X.expand(K, -1, -1, -1).contiguous(), one.Y.expand(K, -1, -1, -1).contiguous(),
                   one.delta.expand(K).contiguous())


def sampled_kernels(m: int, replicas: int, block: int = 50, seed: int = 0) -> torch.Tensor:
    """K/m of ``replicas`` independent networks of width m drawn by ``paper``, on ``shared_data``."""
    kernels = []
    for start in range(0, replicas, block):
        weights, _ = paper_ensemble(Elman(), block, n, L, m, d_x, d, seed=seed + start)
        kernels.append(TangentKernel(Elman(), weights, shared_data(block), ["W"]).matrix() / m)
    return torch.cat(kernels)[:replicas]


def test_arc_cosine_formulas_are_the_gaussian_expectations():
    g = torch.Generator().manual_seed(0)
    q = torch.tensor([[2.0, -0.7], [-0.7, 0.9]], dtype=torch.float64)
    samples = torch.randn(2_000_000, 2, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(q).T
    u, v = samples[:, 0], samples[:, 1]
    one, zero = torch.relu(u) * torch.relu(v), ((u >= 0) & (v >= 0)).to(torch.float64)
    for formula, values in ((arc_cosine_1, one), (arc_cosine_0, zero)):
        error = 4 * float(values.std()) / math.sqrt(len(values))
        assert float(formula(q)[0, 1]) == pytest.approx(float(values.mean()), abs=error)
    assert float(arc_cosine_1(q)[0, 0]) == pytest.approx(1.0, rel=1e-14)  # E relu(u)² = q/2
    assert float(arc_cosine_0(q)[1, 1]) == pytest.approx(0.5, rel=1e-14)


def test_the_recursion_is_the_average_kernel_of_many_wide_networks_within_its_monte_carlo_error():
    # 300 networks of width 256: the Monte Carlo error of the mean is 1.3% of the kernel, the
    # finite-width bias (about 12/m relative at L = 6, measured; less at L = 4) below it. An error
    # of 10% in the factor 2 of each step back (2 -> 1.8) moves the limit by 5.3% of its norm,
    # 4.4 standard errors here: this test fails on it.
    replicas = 300
    kernels = sampled_kernels(256, replicas)
    limit = limit_kernel(shared_data(1).X, d)[0]
    mean, standard_error = kernels.mean(0), kernels.std(0) / math.sqrt(replicas)
    assert float((mean - limit).norm()) <= 3 * float(standard_error.norm())
    assert float(((mean - limit).abs() / standard_error.clamp_min(1e-12)).max()) < 5
    assert float(standard_error.norm() / limit.norm()) < 0.02
    # outputs of different coordinates never correlate in the limit
    assert torch.equal(limit[0::2, 1::2], torch.zeros_like(limit[0::2, 1::2]))


def test_the_deviation_from_the_limit_shrinks_as_the_inverse_square_root_of_m():
    limit = limit_kernel(shared_data(1).X, d)[0]
    deviation = {m: float(((sampled_kernels(m, 20, block=20, seed=5) - limit).flatten(1).norm(dim=1)
                          / limit.norm()).mean()) for m in (64, 256)}
    assert 0.35 < deviation[256] / deviation[64] < 0.65  # (256/64)^(-1/2) = 0.5


def test_kernel_deviation_measures_the_assembled_initial_kernel_against_the_recursion():
    weights, _ = paper_ensemble(Elman(), 2, n, L, 32, d_x, d, seed=3)
    problem = shared_data(2)
    out = KernelDeviation().measure(KernelDeviation.Params(), Probe(weights, weights, problem, network=Elman()))
    limit = limit_kernel(problem.X[:1], d)[0]
    for k in range(2):
        sampled = TangentKernel(Elman(), weights.member(k), problem.member(k), ["W"]).matrix()[0] / 32
        assert float(out["kernel_deviation"][k]) == pytest.approx(float((sampled - limit).norm() / limit.norm()),
                                                                  rel=1e-12)


def gd_residuals_by_loop(kernel: torch.Tensor, start: torch.Tensor, rate: float, steps: int) -> torch.Tensor:
    """r_t of GD on the linear model with this kernel, one step after another: r ← r − η K r."""
    r = start.clone()
    for _ in range(steps):
        r = r - rate * kernel @ r
    return r


@pytest.mark.parametrize("kernel", ["limit", "initial"])
def test_the_kernel_prediction_is_gd_on_the_linear_model_with_that_kernel(kernel):
    """Against the residuals stepped one by one with the assembled kernel (m·K_∞ from the
    recursion, or K_0 = J_0 J_0ᵀ); with K_0, the prediction is ``linearization_gap``'s twin."""
    m, step, rates = 32, 7, torch.tensor([0.004, 0.009], dtype=torch.float64)
    initial, _ = paper_ensemble(Elman(), 2, n, L, m, d_x, d, seed=3)
    problem = shared_data(2)
    shift = 0.01 * torch.randn(initial.W.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    weights = initial.replace(W=initial.W + shift)
    probe = Probe(weights, initial, problem, network=Elman(), step=step, learning_rate=rates)
    out = KernelPrediction().measure(KernelPrediction.Params(kernel=kernel), probe)
    for k in range(2):
        tangent = TangentKernel(Elman(), initial.member(k), problem.member(k), ["W"])
        start = tangent.scored(Elman().forward(initial.member(k), problem.member(k)).residual_members)[0]
        now = tangent.scored(Elman().forward(weights.member(k), problem.member(k)).residual_members)[0]
        matrix = m * limit_kernel(problem.X[k : k + 1], d)[0] if kernel == "limit" else tangent.matrix()[0]
        predicted = gd_residuals_by_loop(matrix, start, float(rates[k]), step)
        f0, f, f_predicted = (0.5 * float(r.square().sum()) for r in (start, now, predicted))
        assert float(out["kernel_prediction_loss"][k]) == pytest.approx(f_predicted, rel=1e-9)
        assert float(out["kernel_prediction_loss_gap"][k]) == pytest.approx(abs(f - f_predicted) / f0, rel=1e-9)
        assert float(out["kernel_prediction_gap"][k]) == pytest.approx(
            float((now - predicted).norm() / start.norm()), rel=1e-9)
    if kernel == "initial":
        twin = LinearizationGap().measure(LinearizationGap.Params(), probe)["twin_loss"]
        torch.testing.assert_close(out["kernel_prediction_loss"], twin, rtol=1e-9, atol=0)


def test_the_limit_kernels_eigendecomposition_is_computed_once_per_training():
    initial, _ = paper_ensemble(Elman(), 2, n, L, 16, d_x, d, seed=4)
    problem, shared = shared_data(2), {}
    rates = torch.tensor([0.01, 0.01], dtype=torch.float64)
    probes = [Probe(initial, initial, problem, network=Elman(), step=step, learning_rate=rates, initial_cache=shared)
              for step in (0, 5, 10)]
    losses = [KernelPrediction().measure(KernelPrediction.Params(), probe)["kernel_prediction_loss"] for probe in probes]
    key = "kernel_prediction: eigendecomposition of m K_∞"
    assert [probe.computations[key] for probe in probes] == [1, 0, 0]
    assert bool((losses[1] < losses[0]).all() and (losses[2] < losses[1]).all())  # η below 2/λ_max: it falls


def test_the_kernel_prediction_is_refused_without_the_trainings_step_size():
    initial, _ = paper_ensemble(Elman(), 1, n, L, 16, d_x, d, seed=4)
    with pytest.raises(ValueError, match="kernel_prediction needs the training's learning rate"):
        KernelPrediction().measure(KernelPrediction.Params(), Probe(initial, initial, shared_data(1), network=Elman()))


def gd_steps_by_loop(kernel: torch.Tensor, start: torch.Tensor, rate: float, target: float) -> int:
    """The first t with ½‖r_t‖² <= target·½‖r_0‖² for GD on the linear model, one step after another."""
    r, level, t = start.clone(), target * float(start.square().sum()), 0
    while float(r.square().sum()) > level:
        r, t = r - rate * kernel @ r, t + 1
    return t


def speed_case(kernel: str = "limit", fractions: tuple[float, ...] = (0.6, 1.5), m: int = 32
               ) -> tuple[Probe, list[float], list[torch.Tensor], list[torch.Tensor]]:
    """A probe at W0 of paper-initialized members, each trained at its fraction of 1/λ_max of
    ``kernel`` (m·K_∞ or K_0, assembled: one matrix per member), with those step sizes, the
    matrices and each member's r_0."""
    initial, _ = paper_ensemble(Elman(), len(fractions), n, L, m, d_x, d, seed=3)
    problem = shared_data(len(fractions))
    matrices, starts = [], []
    for k in range(len(fractions)):
        tangent = TangentKernel(Elman(), initial.member(k), problem.member(k), ["W"])
        starts.append(tangent.scored(Elman().forward(initial.member(k), problem.member(k)).residual_members)[0])
        matrices.append(m * limit_kernel(problem.X[k : k + 1], d)[0] if kernel == "limit" else tangent.matrix()[0])
    rates = [fraction / float(torch.linalg.eigvalsh(matrix).max()) for fraction, matrix in zip(fractions, matrices)]
    probe = Probe(initial, initial, problem, network=Elman(), learning_rate=torch.tensor(rates, dtype=torch.float64))
    return probe, rates, matrices, starts


@pytest.mark.parametrize("kernel", ["limit", "initial"])
@pytest.mark.parametrize("target", [1e-1, 1e-2])
def test_the_predicted_steps_to_target_are_those_of_gd_on_the_linear_model_stepped_one_by_one(kernel, target):
    """m·K_∞ from the recursion, or K_0 = J_0 J_0ᵀ assembled, stepped r ← r − η K r until the loss
    is under target·f_0; with K_0 these are the steps of ``linearization_gap``'s twin."""
    probe, rates, matrices, starts = speed_case(kernel)
    out = KernelSpeed().measure(KernelSpeed.Params(kernel=kernel, target=target), probe)
    for k, (rate, matrix, start) in enumerate(zip(rates, matrices, starts)):
        expected = gd_steps_by_loop(matrix, start, rate, target)
        assert expected > 3
        assert float(out["kernel_steps_to_target"][k]) == expected


def test_the_kernel_complexities_are_the_targets_and_r0_solved_against_the_assembled_kernel():
    """yᵀ(η m K_∞)^{-1}y/‖y‖² (Arora et al.'s yᵀ(H^∞)^{-1}y), y the targets of the outputs l >= 2 in the
    kernel's order (l, then i, then the coordinate), and the same of r_0, by a direct solve."""
    probe, rates, matrices, starts = speed_case()
    out = KernelSpeed().measure(KernelSpeed.Params(), probe)
    for k, (rate, matrix, start) in enumerate(zip(rates, matrices, starts)):
        targets = probe.problem.Y[k, :, 1:].transpose(0, 1).reshape(-1)
        for name, r in (("kernel_complexity", targets), ("kernel_residual_complexity", start)):
            expected = float(r @ torch.linalg.solve(rate * matrix, r)) / float(r.square().sum())
            assert float(out[name][k]) == pytest.approx(expected, rel=1e-9)


def test_the_predicted_steps_are_nan_where_the_step_size_makes_the_prediction_diverge():
    probe, *_ = speed_case(fractions=(1.0, 2.2))  # η λ_max = 1 and 2.2
    steps = KernelSpeed().measure(KernelSpeed.Params(), probe)["kernel_steps_to_target"]
    assert math.isfinite(float(steps[0])) and math.isnan(float(steps[1]))


def test_the_first_step_at_or_below_a_level_is_that_of_an_exhaustive_search():
    g = torch.Generator().manual_seed(2)
    weights = torch.rand(6, 5, generator=g, dtype=torch.float64)
    factors = torch.rand(6, 5, generator=g, dtype=torch.float64) ** 0.02  # slow: hundreds of steps
    factors[5, 0] = 1.0  # a direction that never decays, above the level: never reached
    level = 0.01 * weights.sum(dim=-1)
    level[5] = 0.5 * weights[5, 0]
    level[4] = weights[4].sum()  # reached at step 0
    found = first_step_at_or_below(weights, factors, level)
    t = torch.arange(20_000, dtype=torch.float64)
    sums = (weights.unsqueeze(1) * factors.unsqueeze(1) ** t.view(1, -1, 1)).sum(dim=-1)  # [6, 20000]
    for k in range(5):
        assert float(found[k]) == int(torch.nonzero(sums[k] <= level[k])[0])
    assert float(found[4]) == 0 and math.isnan(float(found[5]))


def test_the_speed_and_the_prediction_share_one_eigendecomposition_per_training():
    initial, _ = paper_ensemble(Elman(), 2, n, L, 16, d_x, d, seed=4)
    problem, shared = shared_data(2), {}
    rates = torch.tensor([0.01, 0.01], dtype=torch.float64)
    probes = [Probe(initial, initial, problem, network=Elman(), step=step, learning_rate=rates, initial_cache=shared)
              for step in (0, 5)]
    KernelSpeed().measure(KernelSpeed.Params(), probes[0])
    KernelPrediction().measure(KernelPrediction.Params(), probes[1])
    key = "kernel_prediction: eigendecomposition of m K_∞"
    assert [probe.computations[key] for probe in probes] == [1, 0]
