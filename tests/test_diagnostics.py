"""The paper's diagnostics against brute-force references written from the paper's definitions:
explicit loops over sequences, layers and pairs, Gram–Schmidt exactly as GS(·) of §2, explicit
products of the matrices D and W, autograd and central finite differences of the loop loss."""
from __future__ import annotations

import math

import pydantic
import pytest
import torch
from torch import Tensor

import framework.probe
from framework import Probe, Problem, ProblemShape, Weights, measured_steps, top_singular_value
from plugins.diagnostics import (
    DIAGNOSTICS,
    ChainNorms,
    DPrimeSparsity,
    ForwardNorms,
    FreshRandomness,
    Loss,
    PerturbationNorms,
    PLRatio,
    Rate,
    SemiSmoothness,
    Separability,
    WeightDistance,
    overparam_register_diagnostics,
)
from conftest import make_problem, make_weights
from reference import autograd_gradient, loop_loss, relative_error

RTOL = 1e-8
M, N, L, D_X, D = 24, 4, 5, 6, 3  # m > nL, so every U_l leaves fresh directions


def assert_agrees(actual: Tensor, expected: Tensor, rtol: float = RTOL) -> None:
    """Every entry within ``rtol`` relative (exact where the reference is 0)."""
    expected = expected.to(actual.dtype)
    assert actual.shape == expected.shape
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=0)


def moved_state(scale: float = 0.5) -> tuple[Weights, Weights, Problem]:
    """Two members (K = 2): paper initialization and separable data of different seeds, and W
    moved from W0 by a Gaussian of spectral size ``scale``·O(1/sqrt(m)) so that signs flip."""
    problem = Problem.stack([make_problem(seed, n=N, L=L, d_x=D_X, d=D, delta=0.3) for seed in (0, 1)])
    initial = Weights.stack([make_weights(M, D_X, D, seed) for seed in (0, 1)])
    rng = torch.Generator().manual_seed(7)
    shift = scale / math.sqrt(M) * torch.randn(initial.W.shape, generator=rng, dtype=torch.float64)
    return initial.replace(W=initial.W + shift), initial, problem


def measure(diagnostic_class, probe: Probe, **params) -> dict[str, Tensor]:
    diagnostic = diagnostic_class()
    return diagnostic.measure(diagnostic.parse_params(params), probe)


def loop_states(W: Tensor, A: Tensor, X: Tensor) -> tuple[list[list[Tensor]], list[list[Tensor]]]:
    """``g[i][l]`` and ``h[i][l]`` of §2.1 for one network, one sequence and layer at a time."""
    n, layers, _ = X.shape
    g = [[None] * layers for _ in range(n)]
    h = [[None] * layers for _ in range(n)]
    for i in range(n):
        previous = torch.zeros(W.shape[0], dtype=W.dtype)
        for layer in range(layers):
            g[i][layer] = W @ previous + A @ X[i, layer]
            h[i][layer] = torch.relu(g[i][layer])
            previous = h[i][layer]
    return g, h


def paper_gram_schmidt(vectors: list[Tensor], m: int = M) -> Tensor:
    """GS(v_1, …, v_k) of §2: v̂_i = Π_{j<i}(I - v̂_j v̂_jᵀ) v_i, normalized; ``[m, k]``."""
    identity = torch.eye(m, dtype=torch.float64)
    columns: list[Tensor] = []
    for v in vectors:
        product = identity.clone()
        for u in columns:
            product = product @ (identity - torch.outer(u, u))
        w = product @ v
        columns.append(w / w.norm())
    return torch.stack(columns, dim=1) if columns else identity[:, :0]


def hidden_in_paper_order(h: list[list[Tensor]], layers: int) -> list[Tensor]:
    """h_{1,1}, …, h_{n,1}, h_{1,2}, …, h_{n,layers}: the order of U_l in §4."""
    return [h[i][a] for a in range(layers) for i in range(len(h))]


def test_loss_equals_loop_over_sequences_and_layers():
    weights, _, problem = moved_state()
    out = measure(Loss, Probe(weights, weights, problem))
    expected = torch.stack([loop_loss(weights.W[k], weights.A[k], weights.B[k], problem.X[k], problem.Y[k])
                            for k in range(2)])
    assert_agrees(out["loss"], expected)


def test_pl_ratio_equals_autograd_gradient_norms_over_m_f():
    weights, initial, problem = moved_state()
    out = measure(PLRatio, Probe(weights, initial, problem))
    full, sequence_max = [], []
    for k in range(2):
        W, A, B, X, Y = weights.W[k], weights.A[k], weights.B[k], problem.X[k], problem.Y[k]
        f = loop_loss(W, A, B, X, Y)
        full.append(autograd_gradient(W, A, B, X, Y)["W"].square().sum() / (M * f))
        per_sequence = [autograd_gradient(W, A, B, X[i : i + 1], Y[i : i + 1])["W"].square().sum()
                        for i in range(N)]
        sequence_max.append(max(per_sequence) / (M * f))
    assert_agrees(out["pl_ratio"], torch.stack(full))
    assert_agrees(out["pl_ratio_sequence_max"], torch.stack(sequence_max))


def test_probe_backward_vectors_rebuild_each_sequence_gradient():
    weights, initial, problem = moved_state()
    probe = Probe(weights, initial, problem)
    for k in range(2):
        W, A, B, X, Y = weights.W[k], weights.A[k], weights.B[k], problem.X[k], problem.Y[k]
        _, h = loop_states(W, A, X)
        for i in range(N):
            rebuilt = sum(torch.outer(probe.backward[k, i, layer], h[i][layer - 1]) for layer in range(1, L))
            assert_agrees(rebuilt, autograd_gradient(W, A, B, X[i : i + 1], Y[i : i + 1])["W"])


def test_weight_distance_equals_matrix_norms_of_w_minus_w0():
    weights, initial, problem = moved_state()
    out = measure(WeightDistance, Probe(weights, initial, problem))
    moved = weights.W - initial.W
    spectral = torch.stack([torch.linalg.matrix_norm(moved[k], ord=2) for k in range(2)])
    frobenius = torch.stack([torch.linalg.matrix_norm(moved[k], ord="fro") for k in range(2)])
    assert_agrees(out["weight_distance_spectral"], spectral)
    assert_agrees(out["weight_distance_frobenius"], frobenius)
    assert_agrees(out["weight_distance_spectral_sqrt_m"], spectral * math.sqrt(M))
    assert_agrees(out["weight_distance_frobenius_sqrt_m"], frobenius * math.sqrt(M))


def test_stability_diagnostics_are_exactly_zero_at_initialization():
    _, initial, problem = moved_state()
    same = Weights(initial.W.clone(), initial.A.clone(), initial.B.clone())
    probe = Probe(same, initial, problem)
    for diagnostic_class in (DPrimeSparsity, PerturbationNorms, WeightDistance):
        for name, value in measure(diagnostic_class, probe).items():
            assert torch.count_nonzero(value) == 0, name


def test_dprime_sparsity_counts_sign_flips_of_explicit_d_matrices():
    weights, initial, problem = moved_state()
    out = measure(DPrimeSparsity, Probe(weights, initial, problem))
    for k in range(2):
        g, _ = loop_states(weights.W[k], weights.A[k], problem.X[k])
        g0, _ = loop_states(initial.W[k], initial.A[k], problem.X[k])
        counts = torch.zeros(N, L, dtype=torch.float64)
        for i in range(N):
            for layer in range(L):
                D_now = torch.diag((g[i][layer] >= 0).double())  # Definition 2.2
                D_then = torch.diag((g0[i][layer] >= 0).double())
                counts[i, layer] = torch.count_nonzero(torch.diagonal(D_now - D_then))
        assert counts.max() > 0  # the check is not vacuous
        assert_agrees(out["dprime_max"][k], counts.max())
        assert_agrees(out["dprime_mean"][k], counts.mean())
        assert_agrees(out["dprime_by_layer"][k], counts.max(dim=0).values)


def test_perturbation_norms_equal_loop_over_sequences_and_layers():
    weights, initial, problem = moved_state()
    out = measure(PerturbationNorms, Probe(weights, initial, problem))
    for k in range(2):
        g, h = loop_states(weights.W[k], weights.A[k], problem.X[k])
        g0, h0 = loop_states(initial.W[k], initial.A[k], problem.X[k])
        for layer in range(L):
            dprime = [torch.diag((g[i][layer] >= 0).double()) - torch.diag((g0[i][layer] >= 0).double())
                      for i in range(N)]
            expected = {
                "h_perturbation": max((h[i][layer] - h0[i][layer]).norm() for i in range(N)),
                "g_perturbation": max((g[i][layer] - g0[i][layer]).norm() for i in range(N)),
                "dprime_g": max((dprime[i] @ g[i][layer]).norm() for i in range(N)),
            }
            for name, value in expected.items():
                assert_agrees(out[name][k, layer], value)


def test_forward_norms_equal_loop_over_sequences_and_layers():
    weights, initial, problem = moved_state()
    out = measure(ForwardNorms, Probe(weights, initial, problem))
    for k in range(2):
        g, h = loop_states(weights.W[k], weights.A[k], problem.X[k])
        for layer in range(L):
            assert_agrees(out["h_norm_min"][k, layer], min(h[i][layer].norm() for i in range(N)))
            assert_agrees(out["h_norm_max"][k, layer], max(h[i][layer].norm() for i in range(N)))
            assert_agrees(out["g_norm_min"][k, layer], min(g[i][layer].norm() for i in range(N)))
            assert_agrees(out["g_norm_max"][k, layer], max(g[i][layer].norm() for i in range(N)))


def test_basis_columns_equal_paper_gram_schmidt_up_to_sign():
    weights, initial, problem = moved_state()
    probe = Probe(weights, initial, problem)
    for k in range(2):
        _, h = loop_states(weights.W[k], weights.A[k], problem.X[k])
        all_layers = paper_gram_schmidt(hidden_in_paper_order(h, L))
        for layer in range(L + 1):
            U = probe.U(layer)[k]
            expected = all_layers[:, : N * layer]  # GS of a prefix is the prefix of GS
            assert U.shape == expected.shape == (M, N * layer)
            signs = torch.sign((U * expected).sum(dim=0))
            assert relative_error(U * signs, expected) <= RTOL  # entries that are 0 by ReLU are 1e-17 in QR


def test_fresh_randomness_equals_norm_outside_paper_gram_schmidt_basis():
    weights, initial, problem = moved_state()
    out = measure(FreshRandomness, Probe(weights, initial, problem))
    identity = torch.eye(M, dtype=torch.float64)
    for k in range(2):
        _, h = loop_states(weights.W[k], weights.A[k], problem.X[k])
        all_layers = paper_gram_schmidt(hidden_in_paper_order(h, L))
        for layer in range(L):
            U = all_layers[:, : N * layer]  # U_{l-1}: every h of the layers before this one
            projector = identity - U @ U.T
            expected = min((projector @ h[i][layer]).norm() for i in range(N))
            assert_agrees(out["fresh_randomness"][k, layer], expected)


def test_separability_equals_min_over_ordered_pairs_of_projected_vectors():
    weights, initial, problem = moved_state()
    out = measure(Separability, Probe(weights, initial, problem))
    identity = torch.eye(M, dtype=torch.float64)
    for k in range(2):
        _, h = loop_states(weights.W[k], weights.A[k], problem.X[k])
        all_layers = paper_gram_schmidt(hidden_in_paper_order(h, L))
        for layer in range(L):
            U = all_layers[:, : N * layer]  # U_{l-1}: every h of the layers before this one
            v = [(identity - U @ U.T) @ h[i][layer] for i in range(N)]
            separations = [
                ((identity - torch.outer(v[j], v[j]) / v[j].square().sum()) @ v[i]).norm()
                for i in range(N) for j in range(N) if i != j
            ]
            assert_agrees(out["separability"][k, layer], min(separations))
            assert_agrees(out["separability_ratio"][k, layer], min(separations) / problem.delta[k])


def test_separability_of_a_single_sequence_is_infinite():
    problem = make_problem(0, n=1, L=3, d_x=4, d=2)
    weights = make_weights(8, 4, 2)
    out = measure(Separability, Probe(weights, weights, problem))
    assert torch.isinf(out["separability"]).all()


def test_chain_norms_equal_spectral_norms_of_explicit_products():
    weights, initial, problem = moved_state()
    out = measure(ChainNorms, Probe(weights, initial, problem), iterations=M, tol=0.0)
    for k in range(2):
        W, B = weights.W[k], weights.B[k]
        g, _ = loop_states(W, weights.A[k], problem.X[k])
        w_norms = torch.zeros(L, dtype=torch.float64)
        b_norms = torch.zeros(L, dtype=torch.float64)
        for i in range(N):
            for low in range(L):
                product = W  # becomes W D_{high} W ⋯ D_{low} W
                for high in range(low, L):
                    D_high = torch.diag((g[i][high] >= 0).double())
                    b_chain = B @ D_high @ product
                    product = W @ D_high @ product
                    length = high - low
                    w_norms[length] = max(w_norms[length], torch.linalg.matrix_norm(product, ord=2))
                    b_norms[length] = max(b_norms[length], torch.linalg.matrix_norm(b_chain, ord=2))
        assert_agrees(out["chain_norm_w"][k], w_norms)
        assert_agrees(out["chain_norm_b"][k], b_norms)


def test_chain_norms_max_length_keeps_the_shortest_chains():
    weights, initial, problem = moved_state()
    probe = Probe(weights, initial, problem)
    full = measure(ChainNorms, probe, iterations=M, tol=0.0)
    short = measure(ChainNorms, probe, iterations=M, tol=0.0, max_length=2)
    assert short["chain_norm_w"].shape == (2, 2)
    assert_agrees(short["chain_norm_w"], full["chain_norm_w"][:, :2])
    assert_agrees(short["chain_norm_b"], full["chain_norm_b"][:, :2])


def test_semi_smoothness_inner_product_equals_central_finite_difference():
    weights, initial, problem = moved_state()
    probe = Probe(weights, initial, problem, seed=3)
    diagnostic = SemiSmoothness()
    params = diagnostic.parse_params({"tau": 1.0})
    out = diagnostic.measure(params, probe)
    shift = diagnostic.perturbation(params, probe)
    eps = 1e-4  # fourth-order stencil: truncation O(eps⁴) is negligible, round-off O(1e-16 f/eps)
    for k in range(2):
        A, B, X, Y = weights.A[k], weights.B[k], problem.X[k], problem.Y[k]
        f = loop_loss(weights.W[k], A, B, X, Y)
        moved = loop_loss(weights.W[k] + shift[k], A, B, X, Y)
        def along(t: float) -> Tensor:
            return loop_loss(weights.W[k] + t * shift[k], A, B, X, Y)

        inner = (8 * (along(eps) - along(-eps)) - (along(2 * eps) - along(-2 * eps))) / (12 * eps)
        norm = torch.linalg.matrix_norm(shift[k], ord=2)
        assert_agrees(out["semi_smoothness_inner"][k], inner)
        assert_agrees(out["semi_smoothness_gap"][k], moved - f - inner)
        assert_agrees(out["semi_smoothness_norm"][k], norm)
        assert_agrees(out["semi_smoothness_sqrt_f_norm"][k], f.sqrt() * norm)
        assert_agrees(out["semi_smoothness_m_norm2"][k], M * norm**2)


def test_semi_smoothness_perturbation_has_norm_tau_over_sqrt_m_and_repeats_with_the_seed():
    weights, initial, problem = moved_state()
    diagnostic = SemiSmoothness()
    params = diagnostic.parse_params({"tau": 0.3})
    first = diagnostic.perturbation(params, Probe(weights, initial, problem, seed=5))
    again = diagnostic.perturbation(params, Probe(weights, initial, problem, seed=5))
    other = diagnostic.perturbation(params, Probe(weights, initial, problem, seed=6))
    assert_agrees(torch.linalg.matrix_norm(first, ord=2), torch.full((2,), 0.3 / math.sqrt(M), dtype=torch.float64))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_rate_recovers_the_exponent_of_an_exact_exponential_decay():
    weights, initial, problem = moved_state()
    f0 = Probe(initial, initial, problem).forward.loss
    steps = [0, 1, 2, 4, 8, 16, 32, 64, 100]
    exponents = torch.tensor([0.05, 0.2], dtype=torch.float64)
    history = torch.stack([f0 * torch.exp(-exponents * t) for t in steps])
    probe = Probe(weights, initial, problem, history_steps=steps, history_loss=history)
    out = measure(Rate, probe, target=0.01)
    assert_agrees(out["rate"], exponents)
    first = [min(t for t, f in zip(steps, history[:, k]) if f <= 0.01 * f0[k]) for k in range(2)]
    assert_agrees(out["steps_to_target"], torch.tensor(first, dtype=torch.float64))


def test_rate_equals_loop_least_squares_over_the_fitted_points():
    weights, initial, problem = moved_state()
    f0 = Probe(initial, initial, problem).forward.loss
    steps = [0, 1, 3, 7, 15, 31, 63]
    rng = torch.Generator().manual_seed(2)
    history = f0 * torch.exp(-0.1 * torch.tensor(steps, dtype=torch.float64).unsqueeze(1)
                             + 0.3 * torch.randn(len(steps), 2, generator=rng, dtype=torch.float64))
    history[2, 1] = float("nan")  # a diverged point is left out
    probe = Probe(weights, initial, problem, history_steps=steps, history_loss=history)
    out = measure(Rate, probe, fit_from=0.05, target=1e-9)
    for k in range(2):
        points = [(t, math.log(float(history[j, k]))) for j, t in enumerate(steps)
                  if t >= 0.05 * steps[-1] and math.isfinite(float(history[j, k]))]
        mean_t = sum(t for t, _ in points) / len(points)
        mean_y = sum(y for _, y in points) / len(points)
        slope = (sum((t - mean_t) * (y - mean_y) for t, y in points)
                 / sum((t - mean_t) ** 2 for t, _ in points))
        assert_agrees(out["rate"][k], torch.tensor(-slope, dtype=torch.float64))
    assert torch.isnan(out["steps_to_target"]).all()  # never reached 1e-9·f(W0)


def test_shared_quantities_are_computed_once_across_all_diagnostics(monkeypatch):
    calls = {"forward": 0, "closed_form_gradient": 0}

    def counted(name, function):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)
        return wrapper

    for name in calls:
        monkeypatch.setattr(framework.probe, name, counted(name, getattr(framework.probe, name)))
    weights, initial, problem = moved_state()
    steps = [0, 1, 2]
    probe = Probe(weights, initial, problem, history_steps=steps, history_loss=torch.ones(3, 2, dtype=torch.float64))
    for _ in range(2):
        for diagnostic_class in DIAGNOSTICS:
            measure(diagnostic_class, probe)
    assert calls == {"forward": 2, "closed_form_gradient": 1}  # at W and at W0; one gradient
    assert set(probe.computations) == {"forward", "forward0", "gradient", "sequence_gradient_norms", "basis", "fresh"}
    assert all(count == 1 for count in probe.computations.values())


@pytest.mark.parametrize("rank", [0, 1, 3, 9])
def test_top_singular_value_equals_matrix_norm_for_every_rank(rank):
    rng = torch.Generator().manual_seed(rank)
    left = torch.randn(4, 9, rank, generator=rng, dtype=torch.float64)
    right = torch.randn(4, rank, 9, generator=rng, dtype=torch.float64)
    matrices = left @ right

    def normal_map(v: Tensor) -> Tensor:
        return (matrices.mT @ (matrices @ v.unsqueeze(-1))).squeeze(-1)

    start = torch.randn(4, 9, generator=rng, dtype=torch.float64)
    estimate = top_singular_value(normal_map, start, iterations=100, tol=0.0, generators=[torch.Generator().manual_seed(k) for k in range(4)])
    assert_agrees(estimate, torch.linalg.matrix_norm(matrices, ord=2))


def test_measured_steps_keeps_every_kth_logged_step_and_the_last():
    schedule = [0, 1, 2, 3, 5, 8, 13, 21, 34, 50]
    chains = ChainNorms.parse_params({"every": 4})
    assert measured_steps(chains, schedule) == [0, 5, 34, 50]
    assert measured_steps(Loss.parse_params({}), schedule) == schedule
    assert measured_steps(SemiSmoothness.parse_params({"every": 1}), schedule) == schedule


def test_every_diagnostic_returns_exactly_its_declared_outputs_and_shapes():
    weights, initial, problem = moved_state()
    probe = Probe(weights, initial, problem, history_steps=[0, 5], history_loss=torch.ones(2, 2, dtype=torch.float64))
    shape = ProblemShape(n=N, L=L, m=M, d_x=D_X, d=D)
    for diagnostic_class in DIAGNOSTICS:
        diagnostic = diagnostic_class()
        params = diagnostic.parse_params({})
        out = diagnostic.measure(params, probe)
        sizes = diagnostic.dim_sizes(params, shape)
        assert set(out) == set(diagnostic.outputs), diagnostic.name
        for name, declared in diagnostic.outputs.items():
            assert tuple(out[name].shape) == (2, *(sizes[dim] for dim in declared.dims)), name
            assert out[name].dtype == torch.float64, name
            assert declared.long_name and declared.paper_ref, name
        assert diagnostic.when in ("init", "schedule", "end")


def test_plugin_registers_the_diagnostics_named_in_the_design():
    names = {d.name for d in overparam_register_diagnostics()}
    assert names == {"loss", "pl_ratio", "weight_distance", "dprime_sparsity", "perturbation_norms",
                     "forward_norms", "fresh_randomness", "separability", "chain_norms", "semi_smoothness", "rate"}
    assert Rate.when == "end"


@pytest.mark.parametrize("diagnostic_class,params", [
    (SemiSmoothness, {"tau": 0}),
    (ChainNorms, {"every": 0}),
    (Rate, {"target": 1.5}),
    (WeightDistance, {"iterations": 0}),
    (Loss, {"unknown": 1}),
])
def test_out_of_bounds_parameters_are_refused(diagnostic_class, params):
    with pytest.raises(pydantic.ValidationError):
        diagnostic_class.parse_params(params)
