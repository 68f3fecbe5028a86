"""Independent references for the tests: the paper's definitions written as plain loops.

Nothing here imports the engine; these functions are what the engine is checked against.
"""
from __future__ import annotations

import torch
from torch import Tensor


def loop_loss(W: Tensor, A: Tensor, B: Tensor, X: Tensor, Y: Tensor) -> Tensor:
    """f(W) of §2.2 for one network (no ensemble axis), one sequence and one layer at a time:
    h_0 = 0, h_l = relu(W h_{l-1} + A x_l), f = Σ_i ½ Σ_{l=2..L} ||B h_l - y*_l||²."""
    n, L, _ = X.shape
    total = torch.zeros((), dtype=W.dtype)
    for i in range(n):
        h = torch.zeros(W.shape[0], dtype=W.dtype)
        for layer in range(L):
            h = torch.relu(W @ h + A @ X[i, layer])
            if layer >= 1:
                total = total + 0.5 * (B @ h - Y[i, layer]).square().sum()
    return total


def autograd_gradient(W: Tensor, A: Tensor, B: Tensor, X: Tensor, Y: Tensor) -> dict[str, Tensor]:
    """∇f for W, A and B by torch autograd of ``loop_loss``."""
    leaves = {name: t.detach().clone().requires_grad_(True) for name, t in zip("WAB", (W, A, B))}
    f = loop_loss(leaves["W"], leaves["A"], leaves["B"], X, Y)
    if not f.requires_grad:  # L = 1: f sums over no layer and does not depend on the weights
        return {name: torch.zeros_like(t) for name, t in leaves.items()}
    f.backward()
    return {name: t.grad for name, t in leaves.items()}


def relative_error(actual: Tensor, expected: Tensor) -> float:
    """||actual - expected|| / ||expected||, or the absolute error when expected is 0."""
    scale = expected.norm()
    diff = (actual - expected).norm()
    return float(diff / scale) if scale > 0 else float(diff)


def loop_residuals(W: Tensor, A: Tensor, B: Tensor, X: Tensor) -> Tensor:
    """The outputs B h_{i,l} of §2.2's loss for one network, one sequence and one layer at a time,
    ``[L - 1, n, d]`` for l = 2..L (the residuals less their targets, which J does not see)."""
    n, L, _ = X.shape
    outputs = [[None] * n for _ in range(L - 1)]
    for i in range(n):
        h = torch.zeros(W.shape[0], dtype=W.dtype)
        for layer in range(L):
            h = torch.relu(W @ h + A @ X[i, layer])
            if layer >= 1:
                outputs[layer - 1][i] = B @ h
    return torch.stack([torch.stack(row) for row in outputs]) if L > 1 else X.new_zeros(0, n, B.shape[0])


def loop_jacobian(W: Tensor, A: Tensor, B: Tensor, X: Tensor) -> Tensor:
    """J, the Jacobian of ``loop_residuals`` in W by reverse-mode autograd, ``[(L - 1)·n·d, m²]``,
    rows in the order (layer, sequence, coordinate)."""
    return torch.func.jacrev(lambda w: loop_residuals(w, A, B, X))(W).reshape(-1, W.numel())


def jacobian_kernel(W: Tensor, A: Tensor, B: Tensor, X: Tensor) -> Tensor:
    """K = J Jᵀ, J = ``loop_jacobian``."""
    J = loop_jacobian(W, A, B, X)
    return J @ J.T
