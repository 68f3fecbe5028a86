"""The ReLU Elman network of §2.1, batched over the ensemble axis: forward pass, the loss of
§2.2 and its gradient in the closed form of Fact 2.5.

Shapes: ``X [K, n, L, d_x]``, ``Y [K, n, L, d]``, ``W [K, m, m]``, ``A [K, m, d_x]``,
``B [K, d, m]``. Internally the layer axis comes first (``[L, K, n, m]`` as rows, or
``[L, K, m, n]`` as columns: ``framework.engine.orientation``), so that each layer is one
contiguous batch of K matrices for any K (a strided batch made the per-layer products ten times
slower); ``Forward`` hands the results out as rows. No autograd graph is built: the gradient is
back-propagation through time written out, one batched matrix product per layer and one for
each sum over the layers. Every product and reduction a member's numbers go through is the same
whatever K is, so a member of an ensemble computes bit for bit what it computes alone.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Collection, Mapping

import torch

from framework.engine.network import Forward, Network
from framework.engine.orientation import ROWS, Orientation, orientation_for
from framework.engine.tensors import HIDDEN, Problem, Weights

if TYPE_CHECKING:
    from torch import Tensor

TRAINABLE = ("W", "A", "B")


ELMAN_DIMS: dict[str, tuple[str, ...]] = {"W": (HIDDEN, HIDDEN), "A": (HIDDEN, "d_x"), "B": ("d", HIDDEN)}
"""The weights of §2.1 and the labels of their axes after K: ``W [m, m]``, ``A [m, d_x]``, ``B [d, m]``."""


def elman_weights(W: Tensor, A: Tensor, B: Tensor) -> Weights:
    """The weights of K Elman networks (§2.1) from ``W [K, m, m]``, ``A [K, m, d_x]``, ``B [K, d, m]``."""
    return Weights({"W": W, "A": A, "B": B}, ELMAN_DIMS)


def member_rows(layers: Tensor) -> Tensor:
    """``[L', K, n, c]`` to a contiguous ``[K, L'·n, c]``: each member's rows, layer by layer."""
    return ROWS.members(layers)


def member_columns(layers: Tensor) -> Tensor:
    """``[L', K, n, c]`` to a contiguous ``[K, c, L'·n]``: the transpose of ``member_rows``, laid out
    so that products with it take the same kernel path for every K."""
    L, K, n, c = layers.shape
    return layers.permute(1, 3, 0, 2).reshape(K, c, L * n)


@dataclass(frozen=True)
class _Pass:
    """One forward pass in an orientation's layer buffers (``framework.engine.orientation``)."""

    orientation: Orientation
    g: Tensor
    h: Tensor
    residual_members: Tensor

    def rows(self) -> Forward:
        return Forward(self.orientation.rows(self.g), self.orientation.rows(self.h), self.residual_members)

    def open_mask(self) -> Tensor:
        """The diagonals of D (Definition 2.2), ``1[g >= 0]``, written as 1.0 / 0.0 by ``ge(out=)``
        rather than converted from a bool tensor (9x slower)."""
        return torch.ge(self.g, 0, out=torch.empty_like(self.g))

    @staticmethod
    def of(state: Forward, orientation: Orientation) -> _Pass:
        return _Pass(orientation, orientation.from_rows(state.g_layers), orientation.from_rows(state.h_layers),
                     state.residual_members)


def _run(weights: Weights, problem: Problem) -> _Pass:
    """The forward pass of §2.1 in the orientation the weights' dtype and device run fastest.

    The input part ``A x_l`` of every layer and the read-out ``B h_l`` of every layer are one
    batched product each; only ``g_l += W h_{l-1}`` is a product per layer, in place in
    preallocated buffers (no allocation, no copy per layer).
    """
    W, A, B = weights.W, weights.A, weights.B
    orient = orientation_for(W)
    L = problem.L
    g = orient.apply_each(A, orient.layers_of(problem.X.transpose(1, 2)))  # A x_l; W h_{l-1} added below
    h = torch.empty_like(g)
    g_l, h_l = g.unbind(0), h.unbind(0)  # every layer's view made once, not per use
    torch.clamp_min(g_l[0], 0, out=h_l[0])  # h_0 = 0: g_1 = A x_1
    for layer in range(1, L):
        orient.accumulate(g_l[layer], W, h_l[layer - 1])
        torch.clamp_min(g_l[layer], 0, out=h_l[layer])
    residual = orient.sequences(orient.apply_each(B, h)) - problem.Y.transpose(1, 2)  # [K, L, n, d]
    residual[:, 0] = 0
    return _Pass(orient, g, h, residual.contiguous())


def forward(weights: Weights, problem: Problem) -> Forward:
    """Run the K networks on their sequences (§2.1): ``h_0 = 0``, ``g_l = W h_{l-1} + A x_l``,
    ``h_l = relu(g_l)``; then the residuals ``B h_l - y*_l`` of the loss of §2.2."""
    return _run(weights, problem).rows()


def loss(weights: Weights, problem: Problem) -> Tensor:
    """``f(W) = Σ_i ½ Σ_{l=2..L} ||B h_{i,l} - y*_{i,l}||²`` (§2.2), ``[K]``."""
    return forward(weights, problem).loss


def closed_form_gradient(
    weights: Weights,
    problem: Problem,
    trained: Collection[str] = ("W",),
    state: Forward | None = None,
) -> dict[str, Tensor]:
    """The gradient of f by Fact 2.5, for each name in ``trained`` (a subset of W, A, B).

    Fact 2.5 writes ``∇f(W) = Σ_i Σ_{a=2..L} Σ_{l=1..a-1} D_{i,l+1} Back_{i,l+1→a}ᵀ loss_{i,a} h_{i,l}ᵀ``
    with ``Back_{i,l→a} = B D_{i,a} W ⋯ D_{i,l+1} W``. Grouping by l, the vector
    ``δ_{i,l} = D_{i,l} Σ_{a>=l} Back_{i,l→a}ᵀ loss_{i,a}`` obeys the backward recursion
    ``δ_{i,L} = D_{i,L} Bᵀ loss_{i,L}``, ``δ_{i,l} = D_{i,l} (Bᵀ loss_{i,l} + Wᵀ δ_{i,l+1})``, so
    ``∇_W f = Σ_i Σ_{l>=2} δ_{i,l} h_{i,l-1}ᵀ`` (h_0 = 0 drops l = 1). The same δ give
    ``∇_A f = Σ_{i,l} δ_{i,l} x_{i,l}ᵀ`` and ``∇_B f = Σ_i Σ_{l>=2} loss_{i,l} h_{i,l}ᵀ``.
    D uses ``1[g >= 0]`` (Definition 2.2), the paper's choice of sub-gradient at 0.

    ``Bᵀ loss_{i,l}`` for every layer is one product, into the buffer the recursion then turns
    into the δ in place; each sum over layers and sequences is one product
    (``Orientation.outer``).
    """
    unknown = set(trained) - set(TRAINABLE)
    if unknown:
        raise ValueError(f"cannot train {sorted(unknown)}: trainable weights are {TRAINABLE}")
    run = _run(weights, problem) if state is None else _Pass.of(state, orientation_for(weights.W))
    orient, L = run.orientation, problem.L
    out: dict[str, Tensor] = {}
    if "B" in trained:
        out["B"] = orient.outer(orient.of_sequences(run.residual_members), orient.members(run.h))
    if not ({"W", "A"} & set(trained)):
        return out
    delta = orient.apply_each(orient.transposed(weights.B), orient.layers_of(run.residual_members))  # Bᵀ loss_l
    open_mask = run.open_mask()
    recurrent = orient.transposed(weights.W)
    delta_l, mask_l = delta.unbind(0), open_mask.unbind(0)
    for layer in range(L - 1, -1, -1):
        delta_l[layer].mul_(mask_l[layer])  # δ_l = D_l (Bᵀ loss_l + Wᵀ δ_{l+1})
        if layer > 0:
            orient.accumulate(delta_l[layer - 1], recurrent, delta_l[layer])
    if "W" in trained:
        out["W"] = orient.outer(orient.members(delta[1:]), orient.members(run.h[:-1]))
    if "A" in trained:
        out["A"] = orient.outer(orient.members(delta), orient.of_sequences(problem.X.transpose(1, 2)))
    return out


def residual_tangent(
    weights: Weights, problem: Problem, direction: Mapping[str, Tensor], state: Forward | None = None
) -> Tensor:
    """``J v``: the change of the residuals ``loss_{i,l}`` (l >= 2) along ``direction`` (tensors
    for some of W, A, B), ``[K, L, n, d]``, member-major as ``Forward.residual_members``.

    Differentiating §2.1 with the ReLU patterns fixed (Definition 2.2): ``dh_0 = 0``,
    ``dg_l = V_W h_{l-1} + W dh_{l-1} + V_A x_l``, ``dh_l = D_l dg_l``,
    ``d loss_l = B dh_l + V_B h_l``; layer 1 is excluded from f, so its row is zero.
    """
    orient = orientation_for(weights.W)
    run = _run(weights, problem) if state is None else _Pass.of(state, orient)
    L = problem.L
    if "A" in direction:
        dg = orient.apply_each(direction["A"], orient.layers_of(problem.X.transpose(1, 2)))
    else:
        dg = torch.zeros_like(run.g)
    if "W" in direction and L > 1:
        dg[1:] += orient.layers(orient.apply(direction["W"], orient.members(run.h[:-1])), L - 1)
    open_mask = run.open_mask()
    for layer in range(L):  # dg becomes dh in place, layer by layer
        dg[layer].mul_(open_mask[layer])
        if layer + 1 < L:
            orient.accumulate(dg[layer + 1], weights.W, dg[layer])
    tangent = orient.apply_each(weights.B, dg)
    if "B" in direction:
        tangent += orient.apply_each(direction["B"], run.h)
    tangent = orient.sequences(tangent).contiguous()
    tangent[:, 0] = 0
    return tangent


def gradient_and_backward(weights: Weights, problem: Problem, state: Forward | None = None) -> tuple[Tensor, Tensor]:
    """``∇_W f`` and every back-propagated ``δ_{i,l}`` ``[K, n, L, m]`` from one call of the closed form.

    The closed form gives ``∇_A f = Σ_{i,l} δ_{i,l} x_{i,l}ᵀ``. Appending to each input
    ``x_{i,l}`` a one-hot channel for its (i, l), read by zero columns of A, leaves the
    forward pass unchanged and makes the gradient for those columns exactly the matrix of
    all δ_{i,l}: the per-sequence gradients of Theorem 3 without n separate passes.
    """
    K, n, L, d_x = problem.X.shape
    m = weights.m
    channels = torch.eye(n * L, dtype=problem.X.dtype, device=problem.X.device)
    one_hot = channels.view(1, n, L, n * L).expand(K, n, L, n * L)
    tagged = Problem(torch.cat([problem.X, one_hot], dim=-1), problem.Y, problem.delta, padding=problem.padding)
    augmented = weights.replace(A=torch.cat([weights.A, weights.A.new_zeros(K, m, n * L)], dim=-1))
    fwd = forward(weights, problem) if state is None else state
    grads = closed_form_gradient(augmented, tagged, ("W", "A"), state=fwd)
    delta = grads["A"][..., d_x:].reshape(K, m, n, L).permute(0, 2, 3, 1)
    return grads["W"], delta


def sequence_gradient_norms_W(delta: Tensor, fwd: Forward) -> Tensor:
    """``||∇_W f_i||_F²`` for each sequence (Theorem 3's upper bound), ``[K, n]``, from the δ of
    ``gradient_and_backward``.

    With ``∇_W f_i = Σ_{l>=2} δ_{i,l} h_{i,l-1}ᵀ``, the squared norm is
    ``Σ_{l,l'} (δ_{i,l}·δ_{i,l'}) (h_{i,l-1}·h_{i,l'-1})``: two L×L Gram matrices per
    sequence instead of n gradients of m×m.
    """
    delta = delta[:, :, 1:].contiguous()  # a strided view takes a K-dependent kernel path
    h = fwd.h[:, :, :-1].contiguous()
    return ((delta @ delta.mT) * (h @ h.mT)).sum(dim=(-1, -2))


class Elman(Network):
    """The ReLU Elman network of §2.1 with every product in closed form (Fact 2.5 and its tangent).

    ``provides`` ``layers`` (the L hidden states), ``recurrent`` (one W shared by the layers) and
    ``sequence`` (the layers are time steps, as §4's U_l needs).
    """

    provides = frozenset({"layers", "recurrent", "sequence"})
    dims = ELMAN_DIMS

    def forward(self, weights: Weights, problem: Problem) -> Forward:
        return forward(weights, problem)

    def loss_outputs(self, outputs: int) -> range:
        """The loss of §2.2 scores the outputs of layers 2..L: the first layer's is left out."""
        return range(1, outputs)

    def gradient(self, weights: Weights, problem: Problem, trained: Collection[str],
                 state: Forward | None = None) -> dict[str, Tensor]:
        return closed_form_gradient(weights, problem, trained, state)

    def pullback(self, weights: Weights, problem: Problem, residual: Tensor, trained: Collection[str],
                 state: Forward | None = None) -> dict[str, Tensor]:
        fwd = self.forward_unless_given(weights, problem, state)
        return closed_form_gradient(weights, problem, trained, fwd.with_residuals(residual))

    def tangent(self, weights: Weights, problem: Problem, direction: Mapping[str, Tensor],
                state: Forward | None = None) -> Tensor:
        return residual_tangent(weights, problem, direction, state)

    def sequence_gradient_norms(self, weights: Weights, problem: Problem, trained: Collection[str],
                                state: Forward | None = None) -> Tensor:
        return self.gradient_and_sequence_norms(weights, problem, trained, state)[1]

    def gradient_and_sequence_norms(self, weights: Weights, problem: Problem, trained: Collection[str],
                                    state: Forward | None = None) -> tuple[dict[str, Tensor], Tensor]:
        """Both from one closed-form call (``gradient_and_backward``), for W alone: the quantities
        of Theorem 3. (The autograd default cannot stand in for other weights: this forward pass
        writes into preallocated buffers, which autograd does not follow.)"""
        if tuple(trained) != ("W",):
            raise ValueError(f"the Elman network's per-sequence gradient norms are those of W alone (Theorem 3); "
                             f"asked for {', '.join(trained)}")
        fwd = self.forward_unless_given(weights, problem, state)
        gradient, delta = gradient_and_backward(weights, problem, fwd)
        return {"W": gradient}, sequence_gradient_norms_W(delta, fwd)[:, : problem.n]
