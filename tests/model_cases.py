"""What the tests of the built-in models share: K networks of one model drawn by the paper's
initializer (each member its own seed) on random unit-norm sequences, and the comparison of a
model's closed forms with autograd on a plainly written forward pass, in float64."""
from __future__ import annotations

from collections.abc import Collection

import torch

from overparam import Network, Problem, Weights
from plugins.initializers import PaperInitialization


def paper_ensemble(network: Network, K: int, n: int, L: int, m: int, d_x: int, d: int,
                   seed: int) -> tuple[Weights, Problem]:
    """K members of ``network``'s weights (``paper``, seeds seed..seed+K-1) and K random problems."""
    g = torch.Generator().manual_seed(seed)
    layout = network.weight_layout(m, d_x, d)
    paper = PaperInitialization()
    weights = Weights.stack([paper.initialize(paper.parse_params({"m": m}), layout, seed + k) for k in range(K)])
    X = torch.randn(K, n, L, d_x, generator=g, dtype=torch.float64)
    Y = torch.randn(K, n, L, d, generator=g, dtype=torch.float64)
    return weights, Problem(X / X.norm(dim=-1, keepdim=True), Y, torch.ones(K, dtype=torch.float64))


def close(a: torch.Tensor, b: torch.Tensor) -> None:
    """Equal to float64 round-off of the products involved."""
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def assert_closed_forms_equal_autograd(exact: Network, plain: Network, weights: Weights, problem: Problem,
                                       trained: Collection[str], residual: torch.Tensor) -> None:
    """``exact``'s forward pass, gradient, pull-back Jᵀ ``residual`` and per-sequence gradient norms
    equal ``plain``'s, which come from autograd on its forward pass."""
    ours, theirs = exact.forward(weights, problem), plain.forward(weights, problem)
    close(ours.h_layers, theirs.h_layers)
    close(ours.residual_members, theirs.residual_members)
    reference = plain.gradient(weights, problem, trained)
    for name, g in exact.gradient(weights, problem, trained).items():
        close(g, reference[name])
    reference = plain.pullback(weights, problem, residual, trained)
    for name, g in exact.pullback(weights, problem, residual, trained).items():
        close(g, reference[name])
    close(exact.sequence_gradient_norms(weights, problem, trained), plain.sequence_gradient_norms(weights, problem, trained))


def assert_tangent_equals_autograd(exact: Network, plain: Network, weights: Weights, problem: Problem,
                                   trained: Collection[str], seed: int) -> None:
    """``exact``'s J v equals forward-mode autograd's on ``plain``, along a random direction of the ``trained`` weights."""
    g = torch.Generator().manual_seed(seed)
    direction = {name: torch.randn(weights[name].shape, generator=g, dtype=torch.float64) for name in trained}
    close(exact.tangent(weights, problem, direction), plain.tangent(weights, problem, direction))
