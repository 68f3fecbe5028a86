"""The forward geometry of §4 at the probed weights: norms (4.1), fresh randomness (4.2) and
the separability of the sequences' fresh parts (4.3).

Layers are counted from 1 as in the paper; the ``layer`` dimension has L entries. U_{l-1}
is an orthonormal basis of all h_{j,a} with a <= l-1 (U_0 is empty), taken from the probe.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import torch

from overparam import Diagnostic, Output, Params, Probe, ProblemShape, SparseScheduleParams

if TYPE_CHECKING:
    from torch import Tensor


class ForwardNorms(Diagnostic):
    """Hidden-state and pre-activation norms per layer, min and max over sequences (4.1).

    (4.1): with high probability 1/2 <= ||h_{i,l}||, ||g_{i,l}|| <= O(L): no exponential
    explosion or vanishing through the L applications of the same W.
    """

    name: ClassVar[str] = "forward_norms"
    needs: ClassVar[frozenset[str]] = frozenset({"layers"})
    outputs: ClassVar[dict[str, Output]] = {
        "h_norm_min": Output(long_name="min_i ||h_{i,l}||", paper_ref="(4.1)", dims=("layer",), units="1"),
        "h_norm_max": Output(long_name="max_i ||h_{i,l}||", paper_ref="(4.1)", dims=("layer",), units="1"),
        "g_norm_min": Output(long_name="min_i ||g_{i,l}||", paper_ref="(4.1)", dims=("layer",), units="1"),
        "g_norm_max": Output(long_name="max_i ||g_{i,l}||", paper_ref="(4.1)", dims=("layer",), units="1"),
    }

    def dim_sizes(self, params: Params, shape: ProblemShape) -> dict[str, int]:
        return {"layer": shape.layers}

    def measure(self, params: Params, probe: Probe) -> dict[str, Tensor]:
        h = probe.forward.h.norm(dim=-1)  # [K, n, L]
        g = probe.forward.g.norm(dim=-1)
        return {
            "h_norm_min": h.amin(dim=1),
            "h_norm_max": h.amax(dim=1),
            "g_norm_min": g.amin(dim=1),
            "g_norm_max": g.amax(dim=1),
        }


class FreshRandomness(Diagnostic):
    """The part of each hidden state outside all earlier ones, min over sequences (4.2).

    ``min_i ||(I - U_{l-1}U_{l-1}ᵀ) h_{i,l}||``: (4.2) says it is at least Ω̃(1/L²), the
    "fresh randomness" that W still has to act on at layer l although it was used at every
    earlier layer. It needs m > n(l-1): once the earlier h span R^m, nothing is fresh.
    ``basis_rank`` at layer l is the rank of U_l = GS(h_{1,1}, …, h_{n,l}) of §4, the number of
    the n·l hidden states h_{j,a}, a <= l, that stayed linearly independent (at most min(m, n·l));
    the U_{l-1} of layer l's fresh randomness has the rank of layer l-1 (0 for l = 1).
    """

    name: ClassVar[str] = "fresh_randomness"
    needs: ClassVar[frozenset[str]] = frozenset({"layers", "sequence"})
    Params: ClassVar[type[Params]] = SparseScheduleParams
    outputs: ClassVar[dict[str, Output]] = {
        "fresh_randomness": Output(
            long_name="min_i ||(I - U_{l-1}U_{l-1}ᵀ) h_{i,l}||", paper_ref="(4.2)", dims=("layer",), units="1"
        ),
        "basis_rank": Output(
            long_name="rank of U_l = GS(h_{1,1}, …, h_{n,l}): independent hidden states h_{j,a}, a <= l",
            paper_ref="(4.2), (4.3)",
            dims=("layer",),
            dtype="int64",
            units="1",
        ),
    }

    def dim_sizes(self, params: Params, shape: ProblemShape) -> dict[str, int]:
        return {"layer": shape.layers}

    def measure(self, params: Params, probe: Probe) -> dict[str, Tensor]:
        return {"fresh_randomness": probe.fresh.norm(dim=-1).amin(dim=1), "basis_rank": basis_ranks(probe)}


def basis_ranks(probe: Probe) -> Tensor:
    """``rank [h_{j,a} : j <= n, a <= l]`` for l = 1..L, ``[K, L]`` int64: the rank of U_l (§4).

    With ``H = QR`` (the probe's basis, columns in the order of U_l) the first n·l columns of H
    have the singular values of R's first n·l columns, whose rows below n·l are zero: an SVD of
    an (n·l)×(n·l) triangle instead of m×(n·l). The rank counts the singular values above
    ``max(m, n·l)·ε·σ_max``, the tolerance of ``torch.linalg.matrix_rank`` for the m×(n·l) H.
    """
    _, R = probe.basis  # [K, r, nL]
    n, L, m = probe.problem.n, probe.problem.L, probe.m
    eps = torch.finfo(R.dtype).eps
    ranks = []
    for layer in range(1, L + 1):
        columns = n * layer
        singular = torch.linalg.svdvals(R[:, : min(R.shape[1], columns), :columns])
        threshold = max(m, columns) * eps * singular[:, :1]  # σ_max (svdvals sorts descending)
        ranks.append((singular > threshold).sum(dim=1))
    return torch.stack(ranks, dim=1)


def pairwise_separation(vectors: Tensor) -> Tensor:
    """``||(I - y yᵀ/||y||²) x||`` for every ordered pair (x, y) = (v_i, v_j), ``[..., n, n]``
    from ``vectors [..., n, r]``; the diagonal (i = j) is +inf. A zero y projects nothing out.

    The residual vectors are formed explicitly rather than as ||x||² - (xᵀy)²/||y||², which
    loses all its digits when x is nearly parallel to y.
    """
    squared = vectors.square().sum(dim=-1)  # [..., n]
    vectors = vectors.contiguous()  # a strided view takes a K-dependent product kernel
    inner = vectors @ vectors.mT.contiguous()  # [..., i, j] = v_i · v_j
    nonzero = (squared > 0).unsqueeze(-2)  # over j
    coefficient = torch.where(nonzero, inner / squared.unsqueeze(-2), torch.zeros_like(inner))
    residual = vectors.unsqueeze(-2) - coefficient.unsqueeze(-1) * vectors.unsqueeze(-3)  # [..., i, j, r]
    separation = residual.norm(dim=-1)
    n = vectors.shape[-2]
    diagonal = torch.eye(n, dtype=torch.bool, device=vectors.device)
    return separation.masked_fill(diagonal, float("inf"))


class Separability(Diagnostic):
    """How separable the sequences' fresh parts stay, per layer, min over pairs (4.3).

    Two vectors x, y are δ-separable when ``||(I - yyᵀ/||y||²)x|| >= δ`` and vice versa;
    with ``v_{i,l} = (I - U_{l-1}U_{l-1}ᵀ) h_{i,l}`` this measures
    ``min_{i≠j} ||(I - v_j v_jᵀ/||v_j||²) v_{i,l}||`` over ordered pairs. The layer index is
    that of h: the paper's (4.3) for (I - U_l U_lᵀ) h_{i,l+1} is this layer l+1, and layer 1
    (U_0 empty, h_{i,1} = relu(A x_{i,1})) is the base case of its induction. (4.3) says the
    separation stays at least δ/2, δ the data's (Assumption 2.1): ``separability_ratio >= 1/2``.
    ``input_separability`` is the same measure applied to the first inputs themselves,
    ``min_{i≠j} ||(I - x_{j,1} x_{j,1}ᵀ/||x_{j,1}||²) x_{i,1}||``: where the induction starts,
    beside Assumption 2.1's δ, which is the distance ``min_{i≠j} ||x_{i,1} - x_{j,1}||``
    instead. It depends on the data alone, so it is the same at every step measured.
    With n = 1 there is no pair and all are +inf, NaN.
    """

    name: ClassVar[str] = "separability"
    needs: ClassVar[frozenset[str]] = frozenset({"layers", "sequence"})
    Params: ClassVar[type[Params]] = SparseScheduleParams
    outputs: ClassVar[dict[str, Output]] = {
        "separability": Output(
            long_name="min_{i≠j} ||(I - v_j v_jᵀ/||v_j||²) v_i||, v = (I - U_{l-1}U_{l-1}ᵀ) h_{·,l}",
            paper_ref="(4.3)",
            dims=("layer",),
            units="1",
        ),
        "separability_ratio": Output(
            long_name="separability divided by the data's δ", paper_ref="(4.3), Assumption 2.1", dims=("layer",),
            units="1",
        ),
        "input_separability": Output(
            long_name="min_{i≠j} ||(I - x_{j,1}x_{j,1}ᵀ/||x_{j,1}||²) x_{i,1}||", paper_ref="(4.3), Assumption 2.1",
        ),
    }

    def dim_sizes(self, params: Params, shape: ProblemShape) -> dict[str, int]:
        return {"layer": shape.layers}

    def measure(self, params: Params, probe: Probe) -> dict[str, Tensor]:
        fresh = probe.fresh  # [K, n, L, r]
        per_layer = [
            pairwise_separation(fresh[:, :, layer]).flatten(start_dim=1).amin(dim=1)
            for layer in range(probe.problem.L)
        ]
        separability = torch.stack(per_layer, dim=1)  # [K, L]
        delta = probe.problem.delta.to(device=separability.device, dtype=separability.dtype)
        first_inputs = probe.problem.X[:, : probe.problem.n, 0, :]  # [K, n, d_x], the padding left out
        inputs = pairwise_separation(first_inputs).flatten(start_dim=1).amin(dim=1).to(separability.dtype)
        return {"separability": separability, "separability_ratio": separability / delta.unsqueeze(1),
                "input_separability": inputs}
