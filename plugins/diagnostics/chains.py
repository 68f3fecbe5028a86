"""Spectral norms of the intermediate-layer chains of §4, (4.4)-(4.6), and of Fact 2.5's Back.

A chain from layer l2 up to layer l1 (l1 >= l2) of sequence i is ``W D_{i,l1} W ⋯ D_{i,l2} W``
(m×m, (4.4)) or ``B D_{i,l1} W ⋯ D_{i,l2} W`` (d×m, the chains of (4.6)); its length is its
number of D factors, l1 - l2 + 1, from 1 to L, and l2 is its start layer. The chains of length
0 are W and B themselves. The B chains whose D indices are all >= 2 are the back-propagation
matrices of Fact 2.5, ``Back_{i,l→a} = B D_{i,a} W ⋯ D_{i,l+1} W`` (1 <= l < a <= L: start
layer l2 = l + 1 >= 2, length a - l), with ``Back_{i,l→l} = B``; a B chain that starts at
l2 = 1 (through D_{i,1}) is no Back matrix, since the gradient never propagates into layer 1
(h_{i,0} = 0). For each length the diagnostic reports the maximum over the sequences i per
start layer, and the maximum over start layers too, since (4.4)-(4.6) hold for every l1 >= l2.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

import torch
from pydantic import Field

from overparam import Diagnostic, Output, Probe, ProblemShape, SparseScheduleParams
from overparam.engine import normal_per_member, top_singular_value

if TYPE_CHECKING:
    from torch import Tensor


class ChainParams(SparseScheduleParams):
    """Which chains, and how accurately their m×m spectral norms are estimated."""

    every: int = Field(
        10, ge=1, description="measure at every `every`-th logged step only (the first and last always)"
    )
    max_length: int | None = Field(
        None, ge=1, description="longest chain measured (None: L); the cost grows as length² (n L² m² per step)"
    )
    iterations: int = Field(
        200, ge=1, description="most Lanczos steps per W-chain norm (exact once >= m); chain_norm_w_error says "
                               "how close the estimates came where they ran out first"
    )
    tol: float = Field(
        1e-10, ge=0, description="a W-chain estimate is final once its step change and its a-posteriori relative "
                                 "error are both at most this"
    )


def chain_lengths(params: ChainParams, L: int) -> int:
    """How many lengths are measured: 1, …, min(max_length, L)."""
    return L if params.max_length is None else min(params.max_length, L)


def by_start_layer(norms: Tensor, L: int) -> Tensor:
    """``[K, n, S]`` norms of the chains of one length by sequence and start layer 1..S to their
    maximum over sequences per start layer, ``[K, L]``, NaN at the start layers S+1..L that
    have no chain of this length."""
    per_start = norms.amax(dim=1)
    missing = per_start.new_full((per_start.shape[0], L - per_start.shape[1]), float("nan"))
    return torch.cat([per_start, missing], dim=1)


class ChainNorms(Diagnostic):
    """Spectral norms of W D⋯D W and B D⋯D W chains and of Fact 2.5's Back, by length and start layer (4.4)-(4.6).

    (4.4): ||W D_{i,l1} W ⋯ D_{i,l2} W||_2 <= O(L³) for every l1 >= l2, although ||W||_2 ≈ 2√2
    and a naive bound grows as 2^{length} (the paper conjectures O(1)); the B chains, among them
    the back-propagation matrices ``Back_{i,l→a}`` of Fact 2.5, have norm about sqrt(m/d) times
    a bounded factor (the scale behind (4.6)). The W-chain norms (length 0 included) are
    Lanczos estimates, lower bounds whose relative error is at most ``chain_norm_w_error``
    (at most ``tol`` once converged); the B-chain norms are exact (SVD of d×m matrices).
    The ``layer`` dimension of the ``_by_layer`` outputs is the start layer l2 (NaN where
    l2 > L - length + 1); ``back_norm`` is ``chain_norm_b_by_layer`` maximized over l2 >= 2.
    """

    name: ClassVar[str] = "chain_norms"
    needs: ClassVar[frozenset[str]] = frozenset({"layers", "recurrent", "sequence"})
    Params: ClassVar[type[Params]] = ChainParams
    outputs: ClassVar[dict[str, Output]] = {
        "chain_norm_w": Output(
            long_name="max_{i,l2} ||W D_{i,l1} W ⋯ D_{i,l2} W||_2, l1 - l2 + 1 = length",
            paper_ref="(4.4)",
            dims=("length",),
            units="1",
        ),
        "chain_norm_w_by_layer": Output(
            long_name="max_i ||W D_{i,l1} W ⋯ D_{i,l2} W||_2, l1 - l2 + 1 = length, start layer l2 = layer",
            paper_ref="(4.4)",
            dims=("length", "layer"),
            units="1",
        ),
        "chain_norm_w_length0": Output(long_name="||W||_2 (the W chain of length 0)", paper_ref="(4.4)", units="1"),
        "chain_norm_w_error": Output(
            long_name="a-posteriori bound on the relative error of the W-chain norms (Lanczos), max over chains",
            paper_ref="(4.4)",
            units="1",
        ),
        "chain_norm_b": Output(
            long_name="max_{i,l2} ||B D_{i,l1} W ⋯ D_{i,l2} W||_2, l1 - l2 + 1 = length, l2 >= 1 (not only Back)",
            paper_ref="(4.6)",
            dims=("length",),
            units="1",
        ),
        "chain_norm_b_by_layer": Output(
            long_name="max_i ||B D_{i,l1} W ⋯ D_{i,l2} W||_2, l1 - l2 + 1 = length, start layer l2 = layer",
            paper_ref="(4.6), Fact 2.5",
            dims=("length", "layer"),
            units="1",
        ),
        "chain_norm_b_length0": Output(
            long_name="||B||_2 (the B chain of length 0, Back_{i,l→l})", paper_ref="(4.6), Fact 2.5", units="1"
        ),
        "back_norm": Output(
            long_name="max_{i,l} ||Back_{i,l→l+length}||_2 = max_{i,l} ||B D_{i,l+length} W ⋯ D_{i,l+1} W||_2 "
                      "(D indices >= 2)",
            paper_ref="Fact 2.5, (4.6)",
            dims=("length",),
            units="1",
        ),
        "back_norm_max": Output(
            long_name="max_{i, 1<=l<=a<=L} ||Back_{i,l→a}||_2 (Back_{i,l→l} = B), a - l <= max_length",
            paper_ref="Fact 2.5, (4.6)",
            units="1",
        ),
    }

    def dim_sizes(self, params: ChainParams, shape: ProblemShape) -> dict[str, int]:
        return {"length": chain_lengths(params, shape.L), "layer": shape.L}

    def measure(self, params: ChainParams, probe: Probe) -> dict[str, Tensor]:
        lengths = chain_lengths(params, probe.problem.L)
        diagonals = probe.forward.pattern.to(probe.weights.W.dtype)  # diagonals of D, [K, n, L, m]
        return {**self._w_chains(params, probe, diagonals, lengths), **self._b_chains(probe, diagonals, lengths)}

    def _w_chains(self, params: ChainParams, probe: Probe, diagonals: Tensor, lengths: int) -> dict[str, Tensor]:
        """Per length k, all chains W D_{s+k-1} W ⋯ D_s W at once, by Lanczos on MᵀM; k = 0 is W."""
        W = probe.weights.W
        Wt = W.mT.contiguous()  # products with a transposed view round differently for K = 1 and K > 1
        K, n, L, m = diagonals.shape
        streams = probe.generators(self.name)

        def estimate(normal_map: Callable[[Tensor], Tensor], rows: int, S: int) -> tuple[Tensor, Tensor]:
            """The norms ``[K, rows, S]`` of the operators whose ``MᵀM v`` is ``normal_map(v)``, and their
            a-posteriori relative errors."""
            start = normal_per_member(streams, (rows, S, m), W)
            return top_singular_value(normal_map, start, params.iterations, params.tol, streams, with_error=True)

        def length0_map(v: Tensor) -> Tensor:  # v [K, 1, 1, m] -> WᵀW v
            # sums of elementwise products: a matrix-vector kernel would round by each member's
            # place in the ensemble
            w_v = (W * v.view(K, 1, m)).sum(dim=-1)
            return (W * w_v.unsqueeze(-1)).sum(dim=-2).view(K, 1, 1, m)

        def chain_map(masks: list[Tensor], S: int) -> Callable[[Tensor], Tensor]:
            """``MᵀM v`` for the chains of all sequences and S start layers whose D diagonals,
            innermost first, are ``masks`` (each ``[K, n·S, m]``)."""
            def normal_map(v: Tensor) -> Tensor:
                product = v.reshape(K, n * S, m) @ Wt  # (W v)ᵀ
                for mask in masks:
                    product = (product * mask) @ Wt
                product = product @ W  # then Mᵀ = Wᵀ D_{s} Wᵀ ⋯ D_{s+k-1} Wᵀ
                for mask in reversed(masks):
                    product = (product * mask) @ W
                return product.view(K, n, S, m)

            return normal_map

        length0, error = estimate(length0_map, 1, 1)
        errors = [error.view(K)]
        maxima, per_layer = [], []
        for k in range(1, lengths + 1):
            S = L - k + 1  # start layers
            masks = [diagonals[:, :, j : j + S].reshape(K, n * S, m) for j in range(k)]  # D_{s+j}
            norms, error = estimate(chain_map(masks, S), n, S)
            maxima.append(norms.amax(dim=(1, 2)))
            per_layer.append(by_start_layer(norms, L))
            errors.append(error.amax(dim=(1, 2)))
        return {
            "chain_norm_w": torch.stack(maxima, dim=1),
            "chain_norm_w_by_layer": torch.stack(per_layer, dim=1),
            "chain_norm_w_length0": length0.view(K),
            "chain_norm_w_error": torch.stack(errors, dim=1).amax(dim=1),
        }

    def _b_chains(self, probe: Probe, diagonals: Tensor, lengths: int) -> dict[str, Tensor]:
        """Per length k, every B D_{s+k-1} W ⋯ D_s W as a d×m matrix, built from length k-1 by
        ``C_{k+1}(s) = C_k(s+1) D_s W`` (all sequences and start layers at once); the Back
        matrices are those with s >= 2."""
        W, B = probe.weights.W, probe.weights.B
        K, n, L, m = diagonals.shape
        d = B.shape[1]
        chains = (B.view(K, 1, 1, d, m) * diagonals.unsqueeze(-2)).reshape(K, n * L * d, m) @ W
        chains = chains.view(K, n, L, d, m)  # position s: B D_s W
        maxima, per_layer, back = [], [], []
        for k in range(1, lengths + 1):
            norms = torch.linalg.matrix_norm(chains, ord=2)  # [K, n, S]
            maxima.append(norms.amax(dim=(1, 2)))
            per_layer.append(by_start_layer(norms, L))
            back.append(norms[:, :, 1:].amax(dim=(1, 2)) if k < L else norms.new_full((K,), float("nan")))
            if k < lengths:
                S = L - k  # starts of the chains of length k + 1
                extended = chains[:, :, 1:] * diagonals[:, :, :S].unsqueeze(-2)
                chains = (extended.reshape(K, n * S * d, m) @ W).view(K, n, S, d, m)
        length0 = torch.linalg.matrix_norm(B, ord=2)
        back_norm = torch.stack(back, dim=1)
        every_back = torch.cat([length0.unsqueeze(1), back_norm], dim=1)
        return {
            "chain_norm_b": torch.stack(maxima, dim=1),
            "chain_norm_b_by_layer": torch.stack(per_layer, dim=1),
            "chain_norm_b_length0": length0,
            "back_norm": back_norm,
            "back_norm_max": every_back.nan_to_num(nan=float("-inf")).amax(dim=1),
        }
