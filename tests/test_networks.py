"""The network interface (``overparam.Network``): a network that writes only its forward pass gets
its loss, gradient, Jᵀ u, J v and per-sequence gradient norms from torch autograd; the Elman
network's closed forms (Fact 2.5 and its tangent) must agree with those in float64, and the
autograd defaults with central finite differences of the forward pass."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from overparam import Forward, Network, Problem, Weights
from overparam.engine import Elman, elman_weights, forward

TRAINED = st.sampled_from([("W",), ("A",), ("B",), ("W", "A"), ("W", "A", "B")])


class AutogradElman(Network):
    """The Elman network of §2.1 written plainly, with nothing but its forward pass: every other
    product comes from autograd. (The engine's forward writes into preallocated buffers, which
    autograd cannot follow; this one is also an independent implementation of §2.1.)"""

    def forward(self, weights, problem):
        W, A, B = weights.W, weights.A, weights.B
        h = problem.X.new_zeros(problem.K, problem.rows, weights.m)
        gs, hs = [], []
        for layer in range(problem.L):
            g = h @ W.mT + problem.X[:, :, layer] @ A.mT
            h = torch.relu(g)
            gs.append(g)
            hs.append(h)
        h_layers = torch.stack(hs)  # [L, K, n, m]
        readout = torch.einsum("lknm,kdm->klnd", h_layers, B) - problem.Y.transpose(1, 2)
        keep = (torch.arange(problem.L) > 0).to(readout.dtype).view(1, -1, 1, 1)  # f leaves out l = 1 (§2.2)
        return Forward(torch.stack(gs), h_layers, readout * keep)


def ensemble(K: int, n: int, L: int, m: int, d_x: int, d: int, seed: int) -> tuple[Weights, Problem]:
    g = torch.Generator().manual_seed(seed)
    weights = elman_weights(torch.randn(K, m, m, generator=g, dtype=torch.float64) * (2 / m) ** 0.5,
                            torch.randn(K, m, d_x, generator=g, dtype=torch.float64) * (2 / m) ** 0.5,
                            torch.randn(K, d, m, generator=g, dtype=torch.float64) / d**0.5)
    X = torch.randn(K, n, L, d_x, generator=g, dtype=torch.float64)
    Y = torch.randn(K, n, L, d, generator=g, dtype=torch.float64)
    return weights, Problem(X / X.norm(dim=-1, keepdim=True), Y, torch.ones(K, dtype=torch.float64))


SHAPES = dict(K=st.integers(1, 3), n=st.integers(1, 4), L=st.integers(1, 5), m=st.integers(1, 12),
              d_x=st.integers(1, 4), d=st.integers(1, 3), seed=st.integers(0, 2**16))


def close(a: torch.Tensor, b: torch.Tensor) -> None:
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(trained=TRAINED, **SHAPES)
def test_elman_closed_form_gradient_and_pullback_equal_autograd(trained, K, n, L, m, d_x, d, seed):
    weights, problem = ensemble(K, n, L, m, d_x, d, seed)
    exact, reference = Elman(), AutogradElman()
    for name, g in reference.gradient(weights, problem, trained).items():
        close(exact.gradient(weights, problem, trained)[name], g)
    u = torch.randn(K, L, n, d, dtype=torch.float64, generator=torch.Generator().manual_seed(seed + 1))
    u[:, 0] = 0  # layer 1 is no output of the loss (§2.2): a pull-back of its residual is not defined
    for name, g in reference.pullback(weights, problem, u, trained).items():
        close(exact.pullback(weights, problem, u, trained)[name], g)


@settings(max_examples=40, deadline=None)
@given(trained=TRAINED, **SHAPES)
def test_elman_closed_form_tangent_equals_forward_mode_autograd(trained, K, n, L, m, d_x, d, seed):
    weights, problem = ensemble(K, n, L, m, d_x, d, seed)
    g = torch.Generator().manual_seed(seed + 2)
    direction = {name: torch.randn(weights[name].shape, generator=g, dtype=torch.float64) for name in trained}
    close(Elman().tangent(weights, problem, direction), AutogradElman().tangent(weights, problem, direction))


@settings(max_examples=30, deadline=None)
@given(**SHAPES)
def test_elman_sequence_gradient_norms_equal_per_sequence_autograd(K, n, L, m, d_x, d, seed):
    weights, problem = ensemble(K, n, L, m, d_x, d, seed)
    close(Elman().sequence_gradient_norms(weights, problem, ("W",)),
          AutogradElman().sequence_gradient_norms(weights, problem, ("W",)))


def test_the_plain_forward_is_the_engines():
    weights, problem = ensemble(2, 3, 4, 6, 3, 2, seed=1)
    ours, plain = forward(weights, problem), AutogradElman().forward(weights, problem)
    close(ours.h_layers, plain.h_layers)
    close(ours.residual_members, plain.residual_members)


def test_autograd_defaults_agree_with_finite_differences():
    """J v against a central difference of the residuals, and ⟨∇f, v⟩ against one of f: the
    defaults are checked independently of autograd itself."""
    weights, problem = ensemble(2, 3, 4, 6, 3, 2, seed=5)
    network = AutogradElman()
    g = torch.Generator().manual_seed(9)
    direction = {name: torch.randn(weights[name].shape, generator=g, dtype=torch.float64) for name in ("W", "B")}
    eps = 1e-6

    def moved(sign: float) -> Weights:
        return weights.replace(**{name: weights[name] + sign * eps * v for name, v in direction.items()})

    residuals = [network.forward(moved(s), problem).residual_members for s in (1.0, -1.0)]
    torch.testing.assert_close(network.tangent(weights, problem, direction), (residuals[0] - residuals[1]) / (2 * eps),
                               rtol=1e-6, atol=1e-8)
    gradient = network.gradient(weights, problem, ("W", "B"))
    slope = sum((gradient[name] * v).sum(dim=(1, 2)) for name, v in direction.items())
    difference = (network.loss(moved(1.0), problem) - network.loss(moved(-1.0), problem)) / (2 * eps)
    torch.testing.assert_close(slope, difference, rtol=1e-6, atol=1e-8)


def test_weights_refuse_inconsistent_shapes_and_unknown_names():
    weights, _ = ensemble(2, 1, 1, 4, 3, 2, seed=0)
    with pytest.raises(ValueError, match="A .* has m = 5"):
        weights.replace(A=torch.zeros(2, 5, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"have no \['V'\]"):
        weights.replace(V=torch.zeros(2, 4, 4))
    with pytest.raises(ValueError, match="ensemble sizes"):
        weights.replace(B=torch.zeros(3, 2, 4, dtype=torch.float64))
    assert (weights.m, weights.d, weights.size("d_x"), weights.K) == (4, 2, 3, 2)


def test_elman_sequence_gradient_norms_are_those_of_w_alone():
    """Theorem 3's per-sequence norms are of ∇_W f; for other weights the closed form has none,
    and the engine's forward pass cannot be differentiated by autograd: a clear error."""
    weights, problem = ensemble(1, 2, 3, 4, 2, 1, seed=0)
    with pytest.raises(ValueError, match="those of W alone"):
        Elman().sequence_gradient_norms(weights, problem, ("W", "A"))
