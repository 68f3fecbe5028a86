"""`stacked_elman`: several ReLU Elman layers, each with its own recurrent matrix, the lower
layer's hidden states the upper layer's inputs; in closed form.

With ``h^s_0 = 0`` and ``h^0_l = x_l``: ``g^1_l = W_1 h^1_{l-1} + A x_l``,
``g^s_l = W_s h^s_{l-1} + U_{s-1} h^{s-1}_l`` for s = 2..S, ``h^s_l = relu(g^s_l)``, outputs
``y_l = B h^S_l`` and the loss of §2.2 on them (l >= 2). For S = 1 it is the Elman network of
§2.1. The weights are ``W [K, S, m, m]`` (W_1..W_S, trained by default), ``A [K, m, d_x]``,
``U [K, S-1, m, m]`` (layer s to s+1) and ``B [K, d, m]``; the forward pass reports the S·L
hidden states level by level (``h^1_1..h^1_L, h^2_1, ..``). Every product is a batch of K
matrix products on contiguous operands, so a member of an ensemble computes bit for bit what
it computes alone.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, ClassVar

import torch
from pydantic import Field

from overparam import Forward, Model, Params, Problem, Weights
from overparam.engine import HIDDEN, member_rows
from plugins.batched import layer_major, outer_sum, rows_times, sequence_outer_norms

if TYPE_CHECKING:
    from torch import Tensor

STACKED_DIMS: dict[str, tuple[str, ...]] = {
    "W": ("stack", HIDDEN, HIDDEN), "A": (HIDDEN, "d_x"), "U": ("links", HIDDEN, HIDDEN), "B": ("d", HIDDEN)}
"""``W [S, m, m]``, ``A [m, d_x]``, ``U [S-1, m, m]``, ``B [d, m]``, in the order initializers draw."""


class StackedParams(Params):
    """How many recurrent layers are stacked."""

    stack: int = Field(2, ge=2, description="number of stacked recurrent layers S (S = 1 is the model elman)")


def time_major(t: Tensor) -> Tensor:
    """``[K, n, L, c]`` to a contiguous ``[L, K, n, c]``."""
    return t.permute(2, 0, 1, 3).contiguous()


def per_sequence(layers: Tensor) -> Tensor:
    """``[L', K, n, c]`` to ``[K, n, L', c]``."""
    return layers.permute(1, 2, 0, 3)


def stacked_forward(weights: Weights, problem: Problem) -> Forward:
    """The forward pass, level by level, each level through the sequence; residuals as §2.2's."""
    x = time_major(problem.X)
    W, U = layer_major(weights.W), layer_major(weights.U)
    S, L, K = W.shape[0], problem.L, weights.K
    g = x.new_empty(S, L, K, problem.rows, weights.m)
    h = torch.empty_like(g)
    for s in range(S):
        for l in range(L):
            below = rows_times(x[l], weights.A) if s == 0 else rows_times(h[s - 1, l], U[s - 1])
            g[s, l] = below + rows_times(h[s, l - 1], W[s]) if l > 0 else below
            torch.clamp_min(g[s, l], 0, out=h[s, l])
    readout = torch.stack([rows_times(h[S - 1, l], weights.B) for l in range(L)])  # [L, K, n, d]
    residual = readout.permute(1, 0, 2, 3) - problem.Y.transpose(1, 2)
    residual[:, 0] = 0
    return Forward(g.view(S * L, K, problem.rows, -1), h.view(S * L, K, problem.rows, -1), residual.contiguous())


def levels(fwd: Forward, S: int) -> tuple[Tensor, Tensor, Tensor]:
    """``g``, ``h`` as ``[S, L, K, n, m]`` and the residuals as ``[L, K, n, d]``."""
    shape = (S, -1, *fwd.g_layers.shape[1:])
    return fwd.g_layers.view(shape), fwd.h_layers.view(shape), fwd.residual_members.transpose(0, 1).contiguous()


def stacked_backward(weights: Weights, fwd: Forward) -> Tensor:
    """``δ^s_l = D^s_l ∂f/∂h^s_l`` ``[S, L, K, n, m]`` of the residuals in ``fwd``:
    ``∂f/∂h^S_l = Bᵀ r_l + W_Sᵀ δ^S_{l+1}``, ``∂f/∂h^s_l = U_sᵀ δ^{s+1}_l + W_sᵀ δ^s_{l+1}``;
    D = diag(1[g >= 0]) (Definition 2.2's sub-gradient)."""
    W, U = layer_major(weights.W), layer_major(weights.U)
    S = W.shape[0]
    g, _, r = levels(fwd, S)
    open_mask = (g >= 0).to(g.dtype)
    delta = torch.empty_like(g)
    for l in range(g.shape[1] - 1, -1, -1):
        for s in range(S - 1, -1, -1):
            carry = torch.bmm(r[l], weights.B) if s == S - 1 else torch.bmm(delta[s + 1, l], U[s])
            if l < g.shape[1] - 1:
                carry = carry + torch.bmm(delta[s, l + 1], W[s])
            delta[s, l] = carry * open_mask[s, l]
    return delta


def factors(weights: Weights, problem: Problem, fwd: Forward, trained: Collection[str]) -> dict[str, list[tuple[Tensor, Tensor]]]:
    """Each trained weight's gradient as ``Σ_{i,l} left_{i,l} right_{i,l}ᵀ`` per matrix: (left, right)
    ``[L', K, n, ·]`` pairs, one per matrix the weight holds. ``∇W_s = Σ δ^s_l h^s_{l-1}ᵀ``,
    ``∇A = Σ δ^1_l x_lᵀ``, ``∇U_s = Σ δ^{s+1}_l h^s_lᵀ``, ``∇B = Σ r_l h^S_lᵀ``."""
    unknown = set(trained) - set(STACKED_DIMS)
    if unknown:
        raise ValueError(f"cannot train {sorted(unknown)}: the stacked network's weights are W, A, U, B")
    S = weights.W.shape[1]
    _, h, r = levels(fwd, S)
    pairs: dict[str, list[tuple[Tensor, Tensor]]] = {}
    if "B" in trained:
        pairs["B"] = [(r, h[S - 1])]
    if not {"W", "A", "U"} & set(trained):
        return pairs
    delta = stacked_backward(weights, fwd)
    if "W" in trained:
        pairs["W"] = [(delta[s, 1:], h[s, :-1]) for s in range(S)]
    if "A" in trained:
        pairs["A"] = [(delta[0], time_major(problem.X))]
    if "U" in trained:
        pairs["U"] = [(delta[s + 1], h[s]) for s in range(S - 1)]
    return pairs


def stacked_gradient(weights: Weights, problem: Problem, trained: Collection[str], fwd: Forward) -> dict[str, Tensor]:
    """``∇f`` of each trained weight, back-propagation through time and levels written out."""
    out = {}
    for name, pairs in factors(weights, problem, fwd, trained).items():
        products = [outer_sum(member_rows(left), member_rows(right)) for left, right in pairs]
        out[name] = torch.stack(products, dim=1) if STACKED_DIMS[name][0] in ("stack", "links") else products[0]
    return out


def stacked_tangent(weights: Weights, problem: Problem, direction: Mapping[str, Tensor], fwd: Forward) -> Tensor:
    """``J v`` with the ReLU patterns fixed: ``dg^s_l = V_{W_s} h^s_{l-1} + W_s dh^s_{l-1} + (V_A x_l``
    or ``V_{U_{s-1}} h^{s-1}_l + U_{s-1} dh^{s-1}_l)``, ``dh = D dg``, ``dr_l = B dh^S_l + V_B h^S_l``; ``[K, L, n, d]``."""
    W, U = layer_major(weights.W), layer_major(weights.U)
    S = W.shape[0]
    g, h, _ = levels(fwd, S)
    open_mask = (g >= 0).to(g.dtype)
    x = time_major(problem.X)
    moved = {name: layer_major(direction[name]) for name in ("W", "U") if name in direction}
    dh = torch.zeros_like(h)
    for s in range(S):
        for l in range(g.shape[1]):
            dg = torch.zeros_like(h[s, l])
            if s == 0 and "A" in direction:
                dg = dg + rows_times(x[l], direction["A"])
            if s > 0:
                dg = dg + rows_times(dh[s - 1, l], U[s - 1])
                if "U" in moved:
                    dg = dg + rows_times(h[s - 1, l], moved["U"][s - 1])
            if l > 0:
                dg = dg + rows_times(dh[s, l - 1], W[s])
                if "W" in moved:
                    dg = dg + rows_times(h[s, l - 1], moved["W"][s])
            dh[s, l] = dg * open_mask[s, l]
    tangent = torch.stack([rows_times(dh[S - 1, l], weights.B) for l in range(g.shape[1])])
    if "B" in direction:
        tangent = tangent + torch.stack([rows_times(h[S - 1, l], direction["B"]) for l in range(g.shape[1])])
    tangent[0] = 0
    return tangent.permute(1, 0, 2, 3).contiguous()


class StackedElman(Model):
    """Stacked ReLU Elman layers: h^s_l = relu(W_s h^s_{l-1} + U_{s-1} h^{s-1}_l) (A x_l at s = 1), y_l = B h^S_l."""

    name: ClassVar[str] = "stacked_elman"
    Params: ClassVar[type[Params]] = StackedParams
    dims = STACKED_DIMS
    provides = frozenset({"layers"})
    trained_by_default = ("W",)

    def sizes(self) -> dict[str, int]:
        return {"stack": self.params.stack, "links": self.params.stack - 1}

    def layer_count(self, L: int) -> int:
        """The S·L hidden states, level by level."""
        return self.params.stack * L

    def forward(self, weights: Weights, problem: Problem) -> Forward:
        return stacked_forward(weights, problem)

    def loss_outputs(self, outputs: int) -> range:
        """§2.2's loss, read at the top level: the outputs of time steps 2..L."""
        return range(1, outputs)

    def gradient(self, weights: Weights, problem: Problem, trained: Collection[str],
                 state: Forward | None = None) -> dict[str, Tensor]:
        return stacked_gradient(weights, problem, trained, self.forward_unless_given(weights, problem, state))

    def pullback(self, weights: Weights, problem: Problem, residual: Tensor, trained: Collection[str],
                 state: Forward | None = None) -> dict[str, Tensor]:
        fwd = self.forward_unless_given(weights, problem, state)
        return stacked_gradient(weights, problem, trained, fwd.with_residuals(residual))

    def tangent(self, weights: Weights, problem: Problem, direction: Mapping[str, Tensor],
                state: Forward | None = None) -> Tensor:
        return stacked_tangent(weights, problem, direction, self.forward_unless_given(weights, problem, state))

    def sequence_gradient_norms(self, weights: Weights, problem: Problem, trained: Collection[str],
                                state: Forward | None = None) -> Tensor:
        """``||∇f_i||²`` over the trained weights from the factors of each matrix's gradient
        (``plugins.batched.sequence_outer_norms``), no per-sequence gradient formed."""
        fwd = self.forward_unless_given(weights, problem, state)
        pairs = [pair for matrices in factors(weights, problem, fwd, trained).values() for pair in matrices]
        total = sum(sequence_outer_norms(per_sequence(left), per_sequence(right)) for left, right in pairs)
        return total[:, : problem.n]
