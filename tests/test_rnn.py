"""The engine against independent computations: autograd, torch.nn.RNN, finite differences."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from overparam import Problem
from overparam.engine import closed_form_gradient, elman_weights, forward, loss
from reference import autograd_gradient, loop_loss, relative_error


def random_ensemble(K: int, n: int, L: int, d_x: int, d: int, m: int, seed: int, dtype=torch.float64):
    """Weights and data with entries of the paper's scale, drawn independently of the engine."""
    g = torch.Generator().manual_seed(seed)
    weights = elman_weights(
        torch.randn(K, m, m, generator=g, dtype=dtype) * (2 / m) ** 0.5,
        torch.randn(K, m, d_x, generator=g, dtype=dtype) * (2 / m) ** 0.5,
        torch.randn(K, d, m, generator=g, dtype=dtype) / d**0.5,
    )
    problem = Problem(
        torch.randn(K, n, L, d_x, generator=g, dtype=dtype) / d_x**0.5,
        torch.randn(K, n, L, d, generator=g, dtype=dtype),
        torch.ones(K, dtype=torch.float64),
    )
    return weights, problem


shapes = st.fixed_dictionaries(
    {
        "K": st.integers(1, 3),
        "n": st.integers(1, 4),
        "L": st.integers(1, 6),
        "d_x": st.integers(1, 5),
        "d": st.integers(1, 3),
        "m": st.integers(1, 12),
        "seed": st.integers(0, 2**31 - 1),
    }
)


@settings(max_examples=40, deadline=None)
@given(shape=shapes)
def test_closed_form_gradient_equals_autograd(shape):
    weights, problem = random_ensemble(**shape)
    grads = closed_form_gradient(weights, problem, trained=("W", "A", "B"))
    for k in range(shape["K"]):
        expected = autograd_gradient(weights.W[k], weights.A[k], weights.B[k], problem.X[k], problem.Y[k])
        for name in "WAB":
            assert relative_error(grads[name][k], expected[name]) <= 1e-10, (name, k)


@pytest.mark.parametrize("L,n,K", [(1, 3, 2), (2, 1, 1), (2, 3, 4), (7, 1, 3)])
def test_closed_form_gradient_equals_autograd_at_edge_shapes(L, n, K):
    weights, problem = random_ensemble(K, n, L, d_x=4, d=3, m=16, seed=L * 100 + n)
    grads = closed_form_gradient(weights, problem, trained=("W", "A", "B"))
    for k in range(K):
        expected = autograd_gradient(weights.W[k], weights.A[k], weights.B[k], problem.X[k], problem.Y[k])
        for name in "WAB":
            assert relative_error(grads[name][k], expected[name]) <= 1e-10
    if L == 1:  # layer 1 is excluded from f (§2.2): nothing to fit, nothing to move
        assert all(torch.count_nonzero(g) == 0 for g in grads.values())


def test_gradient_of_w_alone_matches_the_w_part_of_the_full_gradient():
    weights, problem = random_ensemble(2, 3, 5, 4, 2, 10, seed=3)
    only_w = closed_form_gradient(weights, problem)
    assert set(only_w) == {"W"}
    assert torch.equal(only_w["W"], closed_form_gradient(weights, problem, ("W", "A", "B"))["W"])


def test_unknown_trained_weight_is_refused():
    weights, problem = random_ensemble(1, 2, 3, 2, 2, 4, seed=0)
    with pytest.raises(ValueError, match="cannot train"):
        closed_form_gradient(weights, problem, ("W", "C"))


def test_loss_equals_loop_over_sequences_and_layers():
    weights, problem = random_ensemble(3, 4, 6, 3, 2, 9, seed=5)
    f = loss(weights, problem)
    for k in range(3):
        expected = loop_loss(weights.W[k], weights.A[k], weights.B[k], problem.X[k], problem.Y[k])
        assert f[k].item() == pytest.approx(expected.item(), rel=1e-13)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_forward_equals_torch_nn_rnn(dtype):
    K, n, L, d_x, d, m = 3, 5, 9, 6, 2, 32
    weights, problem = random_ensemble(K, n, L, d_x, d, m, seed=11, dtype=dtype)
    result = forward(weights, problem)
    for k in range(K):
        rnn = torch.nn.RNN(d_x, m, nonlinearity="relu", bias=False, batch_first=True).to(dtype)
        with torch.no_grad():
            rnn.weight_hh_l0.copy_(weights.W[k])
            rnn.weight_ih_l0.copy_(weights.A[k])
            h, _ = rnn(problem.X[k])
        tol = 1e-12 if dtype == torch.float64 else 1e-5
        torch.testing.assert_close(result.h[k], h, rtol=tol, atol=tol)
        torch.testing.assert_close(result.g[k].clamp_min(0), h, rtol=tol, atol=tol)


def test_pattern_is_the_relu_indicator_of_g():
    weights, problem = random_ensemble(2, 3, 4, 3, 2, 8, seed=2)
    result = forward(weights, problem)
    assert result.pattern.dtype == torch.bool
    assert torch.equal(result.pattern, result.g >= 0)
    # h_l = D_l g_l (Definition 2.2), recomputed layer by layer from W, A, x
    for k in range(2):
        for i in range(3):
            h = torch.zeros(8, dtype=torch.float64)
            for layer in range(4):
                g = weights.W[k] @ h + weights.A[k] @ problem.X[k, i, layer]
                D = torch.diag((g >= 0).to(torch.float64))
                h = D @ g
                torch.testing.assert_close(result.h[k, i, layer], h, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("seed", range(3))
def test_directional_finite_difference_agrees_with_gradient(seed):
    weights, problem = random_ensemble(2, 4, 6, 5, 3, 24, seed=seed)
    g = torch.Generator().manual_seed(1000 + seed)
    grads = closed_form_gradient(weights, problem, ("W", "A", "B"))
    for name in "WAB":
        direction = torch.randn(getattr(weights, name).shape, generator=g, dtype=torch.float64)
        eps = 1e-6
        plus = loss(weights.replace(**{name: getattr(weights, name) + eps * direction}), problem)
        minus = loss(weights.replace(**{name: getattr(weights, name) - eps * direction}), problem)
        numeric = (plus - minus) / (2 * eps)
        analytic = (grads[name] * direction).sum(dim=(1, 2))
        torch.testing.assert_close(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_float32_gradient_is_close_to_float64():
    weights, problem = random_ensemble(2, 4, 8, 6, 3, 64, seed=9)
    g64 = closed_form_gradient(weights, problem)["W"]
    g32 = closed_form_gradient(weights.to(dtype=torch.float32), problem.to(dtype=torch.float32))["W"]
    assert g32.dtype == torch.float32
    assert relative_error(g32.double(), g64) < 1e-4


@pytest.mark.parametrize("dtype, n, m", [(torch.float64, 8, 24), (torch.float32, 16, 48), (torch.float32, 32, 256)])
def test_ensemble_members_equal_separate_networks_bit_for_bit(dtype, n, m):
    """n and m multiples of 64 bytes' worth of elements: every member's blocks start on a line
    (framework.planning.tasks). float64 runs the engine's row orientation, float32 on a CPU its
    column orientation (framework.engine.orientation)."""
    weights, problem = random_ensemble(5, n, 7, 4, 3, m, seed=21, dtype=dtype)
    together = closed_form_gradient(weights, problem, ("W", "A", "B"))
    f_together = loss(weights, problem)
    for k in range(5):
        alone = closed_form_gradient(weights.member(k), problem.member(k), ("W", "A", "B"))
        for name in "WAB":
            assert torch.equal(together[name][k], alone[name][0])
        assert torch.equal(f_together[k : k + 1], loss(weights.member(k), problem.member(k)))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu_in_float64():
    weights, problem = random_ensemble(2, 4, 6, 5, 3, 48, seed=4)
    cpu = closed_form_gradient(weights, problem, ("W", "A", "B"))
    gpu = closed_form_gradient(weights.to("cuda"), problem.to("cuda"), ("W", "A", "B"))
    for name in "WAB":
        torch.testing.assert_close(gpu[name].cpu(), cpu[name], rtol=1e-10, atol=1e-12)
