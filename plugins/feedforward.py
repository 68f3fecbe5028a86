"""`feedforward`: the deep ReLU feed-forward network of the companion paper ("A Convergence
Theory for Deep Learning via Over-Parameterization", Allen-Zhu, Li, Song), in closed form.

``h_0 = relu(A x)``, ``h_l = relu(W_l h_{l-1})`` for l = 1..depth with ``depth`` distinct m x m
matrices, output ``y = B h_depth``, loss ``f = ½ Σ_i ||B h_{i,depth} - y*_i||²``. The data are
the first input of each sequence (the vector Assumption 2.1 separates, ``x_{i,1}``) and its
last target (``y*_{i,L}``): on sequences of length 1, exactly the input and target vectors.

Like the Elman network's closed form, every product is a batch of K matrix products on
contiguous layer-major buffers, the same whatever K is, so a member of an ensemble computes
bit for bit what it computes alone. The weights are ``W [K, depth, m, m]``, ``A [K, m, d_x]``,
``B [K, d, m]``; the forward pass reports the depth + 1 layers h_0..h_depth.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, ClassVar

import torch
from pydantic import Field

from overparam import Forward, Model, Params, Problem, Weights
from overparam.engine import HIDDEN
from plugins.batched import layer_major, outer_sum, rows_times

if TYPE_CHECKING:
    from torch import Tensor

FEEDFORWARD_DIMS: dict[str, tuple[str, ...]] = {
    "W": ("depth", HIDDEN, HIDDEN), "A": (HIDDEN, "d_x"), "B": ("d", HIDDEN)}
"""``W [depth, m, m]`` (W_1..W_depth), ``A [m, d_x]``, ``B [d, m]``, in the order initializers draw."""


class FeedforwardParams(Params):
    """The number of hidden m x m layers."""

    depth: int = Field(3, ge=1, description="number of m x m layers W_1..W_depth (the companion paper's L)")


def feedforward(weights: Weights, problem: Problem) -> Forward:
    """The forward pass: ``g_0 = A x``, ``g_l = W_l h_{l-1}``, ``h_l = relu(g_l)``; residual ``B h_depth - y*``."""
    x = problem.X[:, :, 0].contiguous()  # [K, rows, d_x]
    W = layer_major(weights.W)
    depth, K = W.shape[:2]
    g = x.new_empty(depth + 1, K, problem.rows, weights.m)
    h = torch.empty_like(g)
    g[0] = rows_times(x, weights.A)
    for layer in range(depth + 1):
        if layer > 0:
            g[layer] = rows_times(h[layer - 1], W[layer - 1])
        torch.clamp_min(g[layer], 0, out=h[layer])
    residual = rows_times(h[depth], weights.B) - problem.Y[:, :, -1]
    return Forward(g, h, residual.unsqueeze(1))


def backward(weights: Weights, fwd: Forward) -> Tensor:
    """The back-propagated ``δ_l = D_l ∂f/∂h_l`` ``[depth + 1, K, n, m]`` of the residuals in ``fwd``:
    ``δ_depth = D_depth Bᵀ r``, ``δ_{l-1} = D_{l-1} W_lᵀ δ_l``, D = diag(1[g >= 0]) (Definition 2.2's sub-gradient)."""
    W = layer_major(weights.W)
    open_mask = (fwd.g_layers >= 0).to(fwd.g_layers.dtype)
    delta = torch.empty_like(fwd.g_layers)
    carry = torch.bmm(fwd.residual_members[:, 0], weights.B)  # Bᵀ r, as rows
    for layer in range(W.shape[0], -1, -1):
        delta[layer] = carry * open_mask[layer]
        if layer > 0:
            carry = torch.bmm(delta[layer], W[layer - 1])  # W_lᵀ δ_l, as rows
    return delta


def feedforward_gradient(weights: Weights, problem: Problem, trained: Collection[str], fwd: Forward) -> dict[str, Tensor]:
    """``∇f``: ``∇_{W_l} f = Σ_i δ_{i,l} h_{i,l-1}ᵀ``, ``∇_A f = Σ_i δ_{i,0} x_iᵀ``, ``∇_B f = Σ_i r_i h_{i,depth}ᵀ``
    (the companion paper's gradient formula, back-propagation written out)."""
    unknown = set(trained) - set(FEEDFORWARD_DIMS)
    if unknown:
        raise ValueError(f"cannot train {sorted(unknown)}: the feed-forward network's weights are W, A, B")
    out: dict[str, Tensor] = {}
    if "B" in trained:
        out["B"] = outer_sum(fwd.residual_members[:, 0], fwd.h_layers[-1])
    if not {"W", "A"} & set(trained):
        return out
    delta = backward(weights, fwd)
    if "W" in trained:
        out["W"] = torch.stack([outer_sum(delta[layer], fwd.h_layers[layer - 1])
                                for layer in range(1, delta.shape[0])], dim=1)
    if "A" in trained:
        out["A"] = outer_sum(delta[0], problem.X[:, :, 0])
    return out


def feedforward_tangent(weights: Weights, problem: Problem, direction: Mapping[str, Tensor], fwd: Forward) -> Tensor:
    """``J v`` with the ReLU patterns fixed: ``dh_0 = D_0 V_A x``, ``dh_l = D_l (V_l h_{l-1} + W_l dh_{l-1})``,
    ``dr = B dh_depth + V_B h_depth``; ``[K, 1, n, d]``."""
    W = layer_major(weights.W)
    x = problem.X[:, :, 0]
    open_mask = (fwd.g_layers >= 0).to(fwd.g_layers.dtype)
    moved = layer_major(direction["W"]) if "W" in direction else None
    dh = rows_times(x, direction["A"]) * open_mask[0] if "A" in direction else torch.zeros_like(fwd.h_layers[0])
    for layer in range(1, W.shape[0] + 1):
        dg = rows_times(dh, W[layer - 1])
        if moved is not None:
            dg = dg + rows_times(fwd.h_layers[layer - 1], moved[layer - 1])
        dh = dg * open_mask[layer]
    dr = rows_times(dh, weights.B)
    if "B" in direction:
        dr = dr + rows_times(fwd.h_layers[-1], direction["B"])
    return dr.unsqueeze(1)


def sequence_gradient_norms(weights: Weights, problem: Problem, trained: Collection[str], fwd: Forward) -> Tensor:
    """``||∇f_i||²`` over the trained weights, ``[K, n]``: each layer's ``∇f_i`` is the outer product
    ``δ_{i,l} h_{i,l-1}ᵀ`` (or ``δ_{i,0} x_iᵀ``, ``r_i h_{i,depth}ᵀ``), whose squared norm is the product of
    the factors' squared norms; no per-sequence gradient is formed."""
    squared = fwd.h_layers.square().sum(dim=-1)  # ||h_{i,l}||², [depth + 1, K, rows]
    total = torch.zeros_like(squared[0])
    if {"W", "A"} & set(trained):
        delta = backward(weights, fwd).square().sum(dim=-1)
        if "W" in trained:
            total = total + (delta[1:] * squared[:-1]).sum(dim=0)
        if "A" in trained:
            total = total + delta[0] * problem.X[:, :, 0].square().sum(dim=-1)
    if "B" in trained:
        total = total + fwd.residual_members[:, 0].square().sum(dim=-1) * squared[-1]
    return total[:, : problem.n]


COMPANION = "companion paper"
RADIUS = "within ω = poly(n, L, δ⁻¹)/√m of initialization at every layer (‖W_l − W_l^(0)‖_2 ≤ ω)"

STATEMENTS: dict[str, tuple[str, str]] = {
    "linear_convergence": (
        f"{COMPANION}, Theorems 1–2",
        "Once m ≥ poly(n, L, δ⁻¹)·d, GD and SGD on the deep feed-forward network find a point of loss ε in "
        "T = O(poly(n, L)/δ² · log(1/ε)) steps: f falls at a linear rate."),
    "pl_condition": (
        f"{COMPANION}, Theorem 3",
        f"‖∇f(W)‖_F² ≥ Ω(δ/(d n²)) · m · f(W) {RADIUS}: the ratio ‖∇f‖²/(m f) over all layers' W_l stays above a "
        "constant that does not shrink as m grows, and does not depend on L."),
    "semi_smoothness": (
        f"{COMPANION}, Theorem 4",
        "f(W + W') ≤ f(W) + ⟨∇f(W), W'⟩ + poly(n, L) ω^{1/3} √(m log m) √f(W) ‖W'‖_2 + poly(n, L) m ‖W'‖_2² for "
        "every layer's ‖W'_l‖_2 ≤ ω; with ω ∝ m^{−1/2}, ω^{1/3}√m = m^{1/3}: the remainder divided by "
        "m^{1/3}√f‖W'‖ + m‖W'‖² stays below a constant that grows at most as √(log m)."),
    "training_radius": (
        f"{COMPANION}, Theorems 3–4",
        f"The gradient bounds and semi-smoothness hold {RADIUS}, and the convergence proof keeps GD inside: "
        "√m·max_l ‖W_l,T − W_l,0‖_2 stays bounded as m grows (exponent in m at most 0)."),
    "relu_sign_flips": (
        f"{COMPANION}, forward perturbation under Theorems 3–4",
        "Within ‖W_l − W_l^(0)‖_2 ≤ ω of initialization at most O(m ω^{2/3} L) of the m ReLU signs of a layer "
        "flip; on the trajectory ω ∝ m^{−1/2}, so the count is O(m^{2/3}): the fitted exponent in m should be at "
        "most 2/3."),
    "forward_stability": (
        f"{COMPANION}, forward perturbation under Theorems 3–4",
        "‖h_l − h_l^(0)‖, ‖g_l − g_l^(0)‖ ≤ O(ω · poly(L) · √(log m)) within radius ω, with no exponential growth "
        "in l: O(m^{−1/2}) up to the logarithm, so the exponent in m should be at most −1/2."),
    "forward_norms_bounded": (
        f"{COMPANION}, forward propagation at random initialization",
        "At the initialization ‖h_{i,l}‖ stays within constants of ‖x_i‖ = 1 at every layer l ≤ L (about [1/2, 2]) "
        "with high probability, with no growth or decay in L; by the forward perturbation bound, also within "
        "the training radius."),
}
"""The report's claims as the companion paper ("A Convergence Theory for Deep Learning via
Over-Parameterization") states them for this network, where its wording differs from the
recurrent paper's: the same exponents in m, with the depth entering only polynomially."""


class Feedforward(Model):
    """The deep ReLU feed-forward network of the companion paper: h_0 = relu(A x), h_l = relu(W_l h_{l-1}), y = B h_depth."""

    name: ClassVar[str] = "feedforward"
    Params: ClassVar[type[Params]] = FeedforwardParams
    dims = FEEDFORWARD_DIMS
    provides = frozenset({"layers"})
    trained_by_default = ("W",)
    statements = STATEMENTS

    def sizes(self) -> dict[str, int]:
        return {"depth": self.params.depth}

    def layer_count(self, L: int) -> int:
        """h_0..h_depth, whatever the data's length."""
        return self.params.depth + 1

    def forward(self, weights: Weights, problem: Problem) -> Forward:
        return feedforward(weights, problem)

    def gradient(self, weights: Weights, problem: Problem, trained: Collection[str],
                 state: Forward | None = None) -> dict[str, Tensor]:
        return feedforward_gradient(weights, problem, trained, self.forward_unless_given(weights, problem, state))

    def pullback(self, weights: Weights, problem: Problem, residual: Tensor, trained: Collection[str],
                 state: Forward | None = None) -> dict[str, Tensor]:
        fwd = self.forward_unless_given(weights, problem, state).with_residuals(residual)
        return feedforward_gradient(weights, problem, trained, fwd)

    def tangent(self, weights: Weights, problem: Problem, direction: Mapping[str, Tensor],
                state: Forward | None = None) -> Tensor:
        return feedforward_tangent(weights, problem, direction, self.forward_unless_given(weights, problem, state))

    def sequence_gradient_norms(self, weights: Weights, problem: Problem, trained: Collection[str],
                                state: Forward | None = None) -> Tensor:
        return sequence_gradient_norms(weights, problem, trained, self.forward_unless_given(weights, problem, state))
