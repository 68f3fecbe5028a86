"""The paper's diagnostics against brute-force references written from the paper's definitions:
explicit loops over sequences, layers and pairs, Gram–Schmidt exactly as GS(·) of §2, explicit
products of the matrices D and W, autograd and central finite differences of the loop loss."""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pydantic
import pytest
import torch
from torch import Tensor

import framework.engine.probe
import framework.engine.rnn
from overparam import Probe, Problem, ProblemShape, Weights
from overparam.engine import Elman, measured_steps, top_singular_value
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


def elman_probe(weights: Weights, initial: Weights, problem: Problem, **options) -> Probe:
    """A probe of the Elman network of §2.1, the network these diagnostics are checked on."""
    return Probe(weights, initial, problem, network=Elman(), **options)


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
    out = measure(Loss, elman_probe(weights, weights, problem))
    expected = torch.stack([loop_loss(weights.W[k], weights.A[k], weights.B[k], problem.X[k], problem.Y[k])
                            for k in range(2)])
    assert_agrees(out["loss"], expected)


def test_pl_ratio_equals_autograd_gradient_norms_over_m_f():
    weights, initial, problem = moved_state()
    out = measure(PLRatio, elman_probe(weights, initial, problem))
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


def test_elman_backward_vectors_rebuild_each_sequence_gradient():
    weights, initial, problem = moved_state()
    _, delta = framework.engine.rnn.gradient_and_backward(weights, problem)
    for k in range(2):
        W, A, B, X, Y = weights.W[k], weights.A[k], weights.B[k], problem.X[k], problem.Y[k]
        _, h = loop_states(W, A, X)
        for i in range(N):
            rebuilt = sum(torch.outer(delta[k, i, layer], h[i][layer - 1]) for layer in range(1, L))
            assert_agrees(rebuilt, autograd_gradient(W, A, B, X[i : i + 1], Y[i : i + 1])["W"])


def test_weight_distance_equals_matrix_norms_of_w_minus_w0():
    weights, initial, problem = moved_state()
    out = measure(WeightDistance, elman_probe(weights, initial, problem))
    moved = weights.W - initial.W
    spectral = torch.stack([torch.linalg.matrix_norm(moved[k], ord=2) for k in range(2)])
    frobenius = torch.stack([torch.linalg.matrix_norm(moved[k], ord="fro") for k in range(2)])
    assert_agrees(out["weight_distance_spectral"], spectral)
    assert_agrees(out["weight_distance_frobenius"], frobenius)
    assert_agrees(out["weight_distance_spectral_sqrt_m"], spectral * math.sqrt(M))
    assert_agrees(out["weight_distance_frobenius_sqrt_m"], frobenius * math.sqrt(M))


def test_stability_diagnostics_are_exactly_zero_at_initialization():
    _, initial, problem = moved_state()
    same = initial.map(torch.clone)
    probe = elman_probe(same, initial, problem)
    for diagnostic_class in (DPrimeSparsity, PerturbationNorms, WeightDistance):
        for name, value in measure(diagnostic_class, probe).items():
            assert torch.count_nonzero(value) == 0, name


def test_dprime_sparsity_counts_sign_flips_of_explicit_d_matrices():
    weights, initial, problem = moved_state()
    out = measure(DPrimeSparsity, elman_probe(weights, initial, problem))
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
    out = measure(PerturbationNorms, elman_probe(weights, initial, problem))
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
    out = measure(ForwardNorms, elman_probe(weights, initial, problem))
    for k in range(2):
        g, h = loop_states(weights.W[k], weights.A[k], problem.X[k])
        for layer in range(L):
            assert_agrees(out["h_norm_min"][k, layer], min(h[i][layer].norm() for i in range(N)))
            assert_agrees(out["h_norm_max"][k, layer], max(h[i][layer].norm() for i in range(N)))
            assert_agrees(out["g_norm_min"][k, layer], min(g[i][layer].norm() for i in range(N)))
            assert_agrees(out["g_norm_max"][k, layer], max(g[i][layer].norm() for i in range(N)))


def test_basis_columns_equal_paper_gram_schmidt_up_to_sign():
    weights, initial, problem = moved_state()
    probe = elman_probe(weights, initial, problem)
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
    out = measure(FreshRandomness, elman_probe(weights, initial, problem))
    identity = torch.eye(M, dtype=torch.float64)
    for k in range(2):
        _, h = loop_states(weights.W[k], weights.A[k], problem.X[k])
        all_layers = paper_gram_schmidt(hidden_in_paper_order(h, L))
        for layer in range(L):
            U = all_layers[:, : N * layer]  # U_{l-1}: every h of the layers before this one
            projector = identity - U @ U.T
            expected = min((projector @ h[i][layer]).norm() for i in range(N))
            assert_agrees(out["fresh_randomness"][k, layer], expected)


@pytest.mark.parametrize("case", ["independent", "repeated_sequence", "m_below_nL"])
def test_basis_rank_equals_matrix_rank_of_the_stacked_hidden_states(case):
    weights, initial, problem = moved_state()
    if case == "repeated_sequence":  # sequence 2 repeats sequence 1: its hidden states add nothing
        X, Y = problem.X.clone(), problem.Y.clone()
        X[:, 1], Y[:, 1] = X[:, 0], Y[:, 0]
        problem = Problem(X, Y, problem.delta)
    if case == "m_below_nL":  # m = 12 < nL = 20: the hidden states fill R^m by layer 3
        weights = initial = Weights.stack([make_weights(12, D_X, D, seed) for seed in (0, 1)])
    out = measure(FreshRandomness, elman_probe(weights, initial, problem))
    assert out["basis_rank"].dtype == torch.int64
    for k in range(2):
        _, h = loop_states(weights.W[k], weights.A[k], problem.X[k])
        expected = [torch.linalg.matrix_rank(torch.stack(hidden_in_paper_order(h, layer), dim=1))
                    for layer in range(1, L + 1)]
        assert out["basis_rank"][k].tolist() == [int(r) for r in expected]
    if case == "repeated_sequence":
        assert out["basis_rank"][0].tolist() == [(N - 1) * layer for layer in range(1, L + 1)]
    if case == "m_below_nL":
        assert out["basis_rank"][:, -1].tolist() == [12, 12]


def test_separability_equals_min_over_ordered_pairs_of_projected_vectors():
    weights, initial, problem = moved_state()
    out = measure(Separability, elman_probe(weights, initial, problem))
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


def brute_input_separability(X: np.ndarray) -> float:
    """min over ordered pairs i ≠ j of ||(I - x_j x_jᵀ/||x_j||²) x_i||, x_i the first input of
    sequence i, one projection matrix at a time."""
    first = X[:, 0, :]
    identity = np.eye(first.shape[1])
    return min(np.linalg.norm((identity - np.outer(first[j], first[j]) / (first[j] @ first[j])) @ first[i])
               for i in range(len(first)) for j in range(len(first)) if i != j)


def test_input_separability_is_the_measure_of_4_3_on_the_first_inputs():
    weights, initial, problem = moved_state()
    out = measure(Separability, elman_probe(weights, initial, problem))
    for k in range(2):
        expected = torch.tensor(brute_input_separability(problem.X[k].numpy()), dtype=torch.float64)
        assert_agrees(out["input_separability"][k], expected, rtol=1e-12)
        assert out["input_separability"][k] <= problem.delta[k] * (1 + 1e-12)  # a projection's residual <= the distance


def test_separability_of_a_single_sequence_is_infinite():
    problem = make_problem(0, n=1, L=3, d_x=4, d=2)
    weights = make_weights(8, 4, 2)
    out = measure(Separability, elman_probe(weights, weights, problem))
    assert torch.isinf(out["separability"]).all()


def explicit_chain_norms(W: Tensor, A: Tensor, B: Tensor, X: Tensor) -> tuple[Tensor, Tensor]:
    """``||W D_{high} W ⋯ D_{low} W||_2`` and ``||B D_{high} W ⋯ D_{low} W||_2`` of one network,
    maximized over the sequences, ``[length, start]`` (0-based: length - 1, start layer - 1), NaN
    where there is no chain; every chain multiplied out of explicit D matrices and measured by
    ``torch.linalg.matrix_norm(ord=2)``."""
    n, layers, _ = X.shape
    g, _ = loop_states(W, A, X)
    w_norms = torch.full((layers, layers), float("nan"), dtype=torch.float64)
    b_norms = torch.full((layers, layers), float("nan"), dtype=torch.float64)
    for i in range(n):
        for low in range(layers):
            product = W  # becomes W D_{high} W ⋯ D_{low} W
            for high in range(low, layers):
                D_high = torch.diag((g[i][high] >= 0).double())  # Definition 2.2
                b_chain = B @ D_high @ product
                product = W @ D_high @ product
                length = high - low
                for norms, chain in ((w_norms, product), (b_norms, b_chain)):
                    norms[length, low] = torch.fmax(norms[length, low], torch.linalg.matrix_norm(chain, ord=2))
    return w_norms, b_norms


def fact_2_5_back(W: Tensor, A: Tensor, B: Tensor, X: Tensor, i: int, l: int, a: int) -> Tensor:
    """``Back_{i,l→a}`` of Fact 2.5 (layers 1-based): B for a = l, else ``B D_{i,a} W ⋯ D_{i,l+1} W``."""
    g, _ = loop_states(W, A, X)
    product = torch.eye(W.shape[0], dtype=torch.float64)
    for c in range(l + 1, a + 1):  # D_{i,c} W applied after the factors below it
        product = torch.diag((g[i][c - 1] >= 0).double()) @ W @ product
    return B @ product


def test_chain_norms_equal_spectral_norms_of_explicit_products():
    weights, initial, problem = moved_state()
    for params in ({"iterations": M, "tol": 0.0}, {}):  # exact (the whole Krylov space), and the defaults
        out = measure(ChainNorms, elman_probe(weights, initial, problem), **params)
        for k in range(2):
            w_norms, b_norms = explicit_chain_norms(weights.W[k], weights.A[k], weights.B[k], problem.X[k])
            torch.testing.assert_close(out["chain_norm_w_by_layer"][k], w_norms, rtol=RTOL, atol=0, equal_nan=True)
            torch.testing.assert_close(out["chain_norm_b_by_layer"][k], b_norms, rtol=RTOL, atol=0, equal_nan=True)
            assert_agrees(out["chain_norm_w"][k], w_norms.nan_to_num(-1).amax(dim=1))
            assert_agrees(out["chain_norm_b"][k], b_norms.nan_to_num(-1).amax(dim=1))
        assert (out["chain_norm_w_error"] <= 1e-10).all()


def test_chains_of_length_zero_are_the_spectral_norms_of_w_and_b():
    weights, initial, problem = moved_state()
    out = measure(ChainNorms, elman_probe(weights, initial, problem))
    assert_agrees(out["chain_norm_w_length0"], torch.linalg.matrix_norm(weights.W, ord=2))
    assert_agrees(out["chain_norm_b_length0"], torch.linalg.matrix_norm(weights.B, ord=2))


def test_back_norm_is_the_maximum_over_the_back_matrices_of_fact_2_5():
    weights, initial, problem = moved_state()
    out = measure(ChainNorms, elman_probe(weights, initial, problem))
    for k in range(2):
        W, A, B, X = weights.W[k], weights.A[k], weights.B[k], problem.X[k]
        by_length = torch.full((L,), float("nan"), dtype=torch.float64)
        for i in range(N):
            for l in range(1, L + 1):
                for a in range(l + 1, L + 1):
                    norm = torch.linalg.matrix_norm(fact_2_5_back(W, A, B, X, i, l, a), ord=2)
                    by_length[a - l - 1] = torch.fmax(by_length[a - l - 1], norm)
        torch.testing.assert_close(out["back_norm"][k], by_length, rtol=RTOL, atol=0, equal_nan=True)
        assert torch.isnan(out["back_norm"][k, L - 1])  # a Back of length L would need D_{i,1}
        every = torch.cat([torch.linalg.matrix_norm(B, ord=2).view(1), by_length[: L - 1]])  # Back_{i,l→l} = B
        assert_agrees(out["back_norm_max"][k], every.max())
        assert (out["back_norm"][k, : L - 1] <= out["chain_norm_b"][k, : L - 1]).all()  # Back: the chains from l2 >= 2


def test_default_chain_norms_are_accurate_to_1e_10_at_m_256():
    m, n, layers = 256, 2, 3
    problem = make_problem(0, n=n, L=layers, d_x=D_X, d=D, delta=0.3)
    initial = make_weights(m, D_X, D, 0)
    rng = torch.Generator().manual_seed(7)
    weights = initial.replace(W=initial.W + 0.5 / math.sqrt(m) * torch.randn(initial.W.shape, generator=rng,
                                                                              dtype=torch.float64))
    out = measure(ChainNorms, elman_probe(weights, initial, problem))
    w_norms, _ = explicit_chain_norms(weights.W[0], weights.A[0], weights.B[0], problem.X[0])
    exact = torch.cat([torch.linalg.matrix_norm(weights.W[0], ord=2).view(1), w_norms.flatten()])
    measured = torch.cat([out["chain_norm_w_length0"], out["chain_norm_w_by_layer"][0].flatten()])
    present = ~torch.isnan(exact)
    error = ((measured[present] - exact[present]) / exact[present]).abs().max()
    assert error <= 1e-10
    assert out["chain_norm_w_error"][0] <= 1e-10
    assert error <= out["chain_norm_w_error"][0] + 1e-13  # the recorded bound is honest (up to the SVD's round-off)
    truncated = measure(ChainNorms, elman_probe(weights, initial, problem), iterations=3)
    assert truncated["chain_norm_w_error"][0] > 1e-10  # iterations that ran out first are not passed off as converged


def test_chain_norms_max_length_keeps_the_shortest_chains():
    weights, initial, problem = moved_state()
    probe = elman_probe(weights, initial, problem)
    full = measure(ChainNorms, probe, iterations=M, tol=0.0)
    short = measure(ChainNorms, probe, iterations=M, tol=0.0, max_length=2)
    assert short["chain_norm_w"].shape == (2, 2)
    assert_agrees(short["chain_norm_w"], full["chain_norm_w"][:, :2])
    assert_agrees(short["chain_norm_b"], full["chain_norm_b"][:, :2])


def test_semi_smoothness_inner_product_equals_central_finite_difference():
    weights, initial, problem = moved_state()
    probe = elman_probe(weights, initial, problem, seed=3)
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


def test_semi_smoothness_counts_the_relu_signs_the_perturbation_flips():
    """Σ over sequences, layers and neurons of 1[g >= 0] at W + W' differing from at W, the g
    of §2.1 computed one sequence and layer at a time."""
    weights, initial, problem = moved_state()
    probe = elman_probe(weights, initial, problem, seed=3)
    diagnostic = SemiSmoothness()
    params = diagnostic.parse_params({"tau": 4.0})  # large enough that some signs flip
    out = diagnostic.measure(params, probe)
    shift = diagnostic.perturbation(params, probe)
    assert out["semi_smoothness_flips"].dtype == torch.int64
    for k in range(2):
        before, _ = loop_states(weights.W[k], weights.A[k], problem.X[k])
        after, _ = loop_states(weights.W[k] + shift[k], weights.A[k], problem.X[k])
        flips = sum(int(((b >= 0) != (a >= 0)).sum()) for row_b, row_a in zip(before, after)
                    for b, a in zip(row_b, row_a))
        assert flips > 0
        assert int(out["semi_smoothness_flips"][k]) == flips


def test_semi_smoothness_keeps_the_directions_spectral_norm_before_rescaling(tmp_path):
    weights, initial, problem = moved_state()
    direction = 3.0 * torch.randn(M, M, generator=torch.Generator().manual_seed(11), dtype=torch.float64)
    np.savez(tmp_path / "direction.npz", direction=direction.numpy())
    from_file = measure(SemiSmoothness, elman_probe(weights, initial, problem), direction=str(tmp_path / "direction.npz"))
    expected = torch.full((2,), float(np.linalg.norm(direction.numpy(), ord=2)), dtype=torch.float64)
    assert_agrees(from_file["semi_smoothness_direction_norm"], expected, rtol=1e-12)
    seeded = measure(SemiSmoothness, elman_probe(weights, initial, problem), direction_seed=5)
    gaussian = torch.randn(M, M, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    expected = torch.full((2,), float(np.linalg.norm(gaussian.numpy(), ord=2)), dtype=torch.float64)
    assert_agrees(seeded["semi_smoothness_direction_norm"], expected, rtol=1e-12)
    own = measure(SemiSmoothness, elman_probe(weights, initial, problem, seed=[1, 2]))  # each member its own Gaussian
    assert own["semi_smoothness_direction_norm"].shape == (2,)
    assert own["semi_smoothness_direction_norm"][0] != own["semi_smoothness_direction_norm"][1]


def test_semi_smoothness_perturbation_has_norm_tau_over_sqrt_m_and_repeats_with_the_seed():
    weights, initial, problem = moved_state()
    diagnostic = SemiSmoothness()
    params = diagnostic.parse_params({"tau": 0.3})
    first = diagnostic.perturbation(params, elman_probe(weights, initial, problem, seed=5))
    again = diagnostic.perturbation(params, elman_probe(weights, initial, problem, seed=5))
    other = diagnostic.perturbation(params, elman_probe(weights, initial, problem, seed=6))
    assert_agrees(torch.linalg.matrix_norm(first, ord=2), torch.full((2,), 0.3 / math.sqrt(M), dtype=torch.float64))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def autograd_remainder(weights: Weights, problem: Problem, shift: Tensor, k: int) -> Tensor:
    """f(W + W') - f(W) - <∇f(W), W'> of member k, f by the loop loss and ∇f by autograd."""
    W, A, B, X, Y = weights.W[k], weights.A[k], weights.B[k], problem.X[k], problem.Y[k]
    gradient = autograd_gradient(W, A, B, X, Y)["W"]
    return loop_loss(W + shift, A, B, X, Y) - loop_loss(W, A, B, X, Y) - (gradient * shift).sum()


def test_semi_smoothness_along_a_direction_file_equals_the_autograd_remainder(tmp_path):
    weights, initial, problem = moved_state()
    direction = torch.randn(M, M, generator=torch.Generator().manual_seed(11), dtype=torch.float64)
    path = tmp_path / "direction.npz"
    np.savez(path, direction=direction.numpy())
    tau = 0.7
    diagnostic = SemiSmoothness()
    params = diagnostic.parse_params({"tau": tau, "direction": "direction.npz"}, tmp_path)  # as in a pipeline file there
    assert params.direction == path
    out = diagnostic.measure(params, elman_probe(weights, initial, problem, seed=[3, 4]))
    shift = tau / math.sqrt(M) * direction / torch.linalg.matrix_norm(direction, ord=2)  # W' = τ/√m · V/||V||_2
    for k in range(2):  # the same W' for every member, whatever the probe's seeds
        gradient = autograd_gradient(weights.W[k], weights.A[k], weights.B[k], problem.X[k], problem.Y[k])["W"]
        assert_agrees(out["semi_smoothness_gap"][k], autograd_remainder(weights, problem, shift, k))
        assert_agrees(out["semi_smoothness_inner"][k], (gradient * shift).sum())
    assert_agrees(out["semi_smoothness_norm"], torch.full((2,), tau / math.sqrt(M), dtype=torch.float64))


def test_semi_smoothness_along_a_named_seed_is_fixed_across_members_and_probes():
    weights, initial, problem = moved_state()
    diagnostic = SemiSmoothness()
    params = diagnostic.parse_params({"direction_seed": 5})
    first = diagnostic.perturbation(params, elman_probe(weights, initial, problem, seed=[1, 2]))
    again = diagnostic.perturbation(params, elman_probe(weights, initial, problem, seed=[8, 9]))
    gaussian = torch.randn(M, M, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    expected = gaussian / (math.sqrt(M) * torch.linalg.matrix_norm(gaussian, ord=2))
    for k in range(2):
        assert torch.equal(first[k], again[k])
        assert_agrees(first[k], expected)
    out = diagnostic.measure(params, elman_probe(weights, initial, problem))
    for k in range(2):
        assert_agrees(out["semi_smoothness_gap"][k], autograd_remainder(weights, problem, expected, k))


def test_semi_smoothness_direction_files_of_the_wrong_shape_or_key_are_refused(tmp_path):
    weights, initial, problem = moved_state()
    probe = elman_probe(weights, initial, problem)
    wrong_shape, wrong_key = tmp_path / "shape.npz", tmp_path / "key.npz"
    np.savez(wrong_shape, direction=np.ones((M - 1, M)))
    np.savez(wrong_key, W=np.ones((M, M)))
    with pytest.raises(ValueError, match=rf"shape \({M - 1}, {M}\).*m = {M}.*\({M}, {M}\)"):
        measure(SemiSmoothness, probe, direction=str(wrong_shape))
    with pytest.raises(ValueError, match="no array 'direction'.*'W'"):
        measure(SemiSmoothness, probe, direction=str(wrong_key))
    with pytest.raises(pydantic.ValidationError, match="not both"):
        SemiSmoothness.parse_params({"direction": str(wrong_shape), "direction_seed": 1})


def test_rate_recovers_the_exponent_of_an_exact_exponential_decay():
    weights, initial, problem = moved_state()
    f0 = elman_probe(initial, initial, problem).forward.loss
    steps = [0, 1, 2, 4, 8, 16, 32, 64, 100]
    exponents = torch.tensor([0.05, 0.2], dtype=torch.float64)
    history = torch.stack([f0 * torch.exp(-exponents * t) for t in steps])
    probe = elman_probe(weights, initial, problem, history_steps=steps, history_loss=history)
    out = measure(Rate, probe, target=0.01)
    assert_agrees(out["rate"], exponents)
    first = [min(t for t, f in zip(steps, history[:, k]) if f <= 0.01 * f0[k]) for k in range(2)]
    assert_agrees(out["steps_to_target"], torch.tensor(first, dtype=torch.float64))


def test_rate_equals_loop_least_squares_over_the_fitted_points():
    weights, initial, problem = moved_state()
    f0 = elman_probe(initial, initial, problem).forward.loss
    steps = [0, 1, 3, 7, 15, 31, 63]
    rng = torch.Generator().manual_seed(2)
    history = f0 * torch.exp(-0.1 * torch.tensor(steps, dtype=torch.float64).unsqueeze(1)
                             + 0.3 * torch.randn(len(steps), 2, generator=rng, dtype=torch.float64))
    history[2, 1] = float("nan")  # a diverged point is left out
    probe = elman_probe(weights, initial, problem, history_steps=steps, history_loss=history)
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

    for module, name in ((framework.engine.rnn, "forward"), (framework.engine.rnn, "closed_form_gradient")):
        monkeypatch.setattr(module, name, counted(name, getattr(module, name)))
    weights, initial, problem = moved_state()
    steps = [0, 1, 2]
    probe = elman_probe(weights, initial, problem, history_steps=steps, history_loss=torch.ones(3, 2, dtype=torch.float64),
                        learning_rate=torch.full((2,), 1e-3, dtype=torch.float64))
    for _ in range(2):
        for diagnostic_class in DIAGNOSTICS:
            measure(diagnostic_class, probe)
    # the probe's passes at W and at W0 once, plus semi_smoothness's own f(W + shift) at each of its two
    # measurements; one gradient, and one batched pull-back for each tangent kernel assembled (at W and W0)
    assert calls == {"forward": 2 + 2, "closed_form_gradient": 1 + 2}
    assert set(probe.computations) == {"forward", "forward0", "gradient", "sequence_gradient_norms", "basis", "fresh",
                                       "kernel", "kernel_matrix", "kernel_matrix0", "kernel_eigenvectors0",
                                       "kernel_prediction: eigendecomposition of m K_∞"}
    assert all(count == 1 for count in probe.computations.values())


@pytest.mark.parametrize("diagnostic_class,params", [
    (ChainNorms, {}),
    (FreshRandomness, {}),
    (DPrimeSparsity, {}),
    (SemiSmoothness, {"direction_seed": 2}),
])
def test_a_member_measures_bit_for_bit_what_it_measures_alone(diagnostic_class, params):
    """In shapes that ensembles pack (n and m multiples of 8 in float64, ``framework.planning.tasks``)."""
    m, seeds = 32, (3, 4)
    problems = [make_problem(seed, n=8, L=4, d_x=D_X, d=D, delta=0.3) for seed in (0, 1)]
    initial = [make_weights(m, D_X, D, seed) for seed in (0, 1)]
    rng = torch.Generator().manual_seed(7)
    moved = [w.replace(W=w.W + 0.5 / math.sqrt(m) * torch.randn(w.W.shape, generator=rng, dtype=torch.float64))
             for w in initial]
    together = measure(diagnostic_class, elman_probe(Weights.stack(moved), Weights.stack(initial), Problem.stack(problems),
                                               seed=list(seeds)), **params)
    for k in range(2):
        alone = measure(diagnostic_class, elman_probe(moved[k], initial[k], problems[k], seed=seeds[k]), **params)
        for name, value in alone.items():
            torch.testing.assert_close(together[name][k : k + 1], value, rtol=0, atol=0, equal_nan=True, msg=name)


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
    probe = elman_probe(weights, initial, problem, history_steps=[0, 5], history_loss=torch.ones(2, 2, dtype=torch.float64),
                        learning_rate=torch.full((2,), 1e-3, dtype=torch.float64))
    shape = ProblemShape(n=N, L=L, m=M, d_x=D_X, d=D, layers=L)
    for diagnostic_class in DIAGNOSTICS:
        diagnostic = diagnostic_class()
        params = diagnostic.parse_params({})
        out = diagnostic.measure(params, probe)
        sizes = diagnostic.dim_sizes(params, shape)
        assert set(out) == set(diagnostic.outputs), diagnostic.name
        for name, declared in diagnostic.outputs.items():
            assert tuple(out[name].shape) == (2, *(sizes[dim] for dim in declared.dims)), name
            assert out[name].dtype == getattr(torch, declared.dtype), name
            assert declared.long_name and declared.paper_ref, name
        assert diagnostic.when in ("init", "schedule", "end")


def documented_outputs() -> dict[str, set[str]]:
    """The table of docs/diagnostics.md read as the reader reads it: each diagnostic (a row with
    an empty first cell continues the row above) with the outputs its second cell names,
    ``a_{b,c}`` standing for ``a_b`` and ``a_c`` and ``…_x`` for each name before it with ``_x``."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "diagnostics.md").read_text()
    table = text[text.index("| diagnostic | outputs (dims)"):text.index("## When each is measured")]
    found: dict[str, set[str]] = {}
    current = ""
    for row in table.splitlines()[2:]:
        cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
        if len(cells) < 2:
            continue
        current = cells[0].strip("`") or current
        names: list[str] = []
        for token in re.findall(r"`([^`]+)`", cells[1]):
            if token.startswith("…"):
                names += [name + token[1:] for name in names]
            elif "{" in token:
                head, options, tail = re.match(r"(.*)\{(.*)\}(.*)", token).groups()
                names += [head + option + tail for option in options.split(",")]
            else:
                names.append(token)
        found.setdefault(current, set()).update(names)
    return found


def test_the_plugin_registers_each_diagnostic_the_docs_document_with_the_outputs_they_name():
    documented = documented_outputs()
    registered = {d.name: set(d.outputs) for d in overparam_register_diagnostics()}
    assert set(registered) == set(documented)
    for name, outputs in registered.items():
        assert outputs == documented[name], name
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


def test_seeds_given_as_a_function_are_derived_only_when_a_diagnostic_draws():
    """``Probe.reseeded`` with a function: the same draws as with the seeds themselves, and the
    function is not called by a measurement that draws nothing (deriving a seed per member,
    diagnostic and step cost a tenth of a tiny network's measurement)."""
    problem = make_problem(0, n=4, L=3, d_x=3, d=2, delta=0.3)
    weights = Weights.stack([make_weights(16, 3, 2, seed) for seed in (1, 2)])
    problem = Problem.stack([problem, problem])
    probe = Probe(weights, weights, problem, network=Elman())
    calls = []

    def seeds() -> list[int]:
        calls.append(1)
        return [11, 12]

    lazy = probe.reseeded(seeds)
    assert lazy.forward.loss.shape == (2,) and calls == []
    drawn = [torch.randn(3, generator=g) for g in lazy.generators("semi_smoothness")]
    given = [torch.randn(3, generator=g) for g in probe.reseeded([11, 12]).generators("semi_smoothness")]
    assert calls == [1] and all(torch.equal(a, b) for a, b in zip(drawn, given))
    lazy.generators("other")
    assert calls == [1]  # derived once
    with pytest.raises(ValueError, match="3 seeds for an ensemble of K = 2"):
        probe.reseeded([1, 2, 3])
