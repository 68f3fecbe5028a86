"""Spectral norms of the intermediate-layer chains of §4, (4.4)-(4.6), by chain length.

A chain from layer l2 up to layer l1 (l1 >= l2) of sequence i is ``W D_{i,l1} W ⋯ D_{i,l2} W``
(m×m) or ``B D_{i,l1} W ⋯ D_{i,l2} W`` (d×m, the ``Back`` matrices of Fact 2.5); its length
is its number of D factors, l1 - l2 + 1, from 1 to L. For each length the diagnostic reports
the maximum over the sequences i and over all start layers l2 (1 <= l2 <= L - length + 1),
since (4.4)-(4.6) hold for every l1 >= l2: what matters is the worst chain of each length.
"""
from __future__ import annotations

from typing import ClassVar

import torch
from pydantic import Field
from torch import Tensor

from framework import (
    Diagnostic,
    Output,
    Params,
    Probe,
    ProblemShape,
    SparseScheduleParams,
    normal_per_member,
    top_singular_value,
)


class ChainParams(SparseScheduleParams):
    """Which chains, and how accurately their m×m spectral norms are estimated."""

    every: int = Field(
        10, ge=1, description="measure at every `every`-th logged step only (the first and last always)"
    )
    max_length: int | None = Field(
        None, ge=1, description="longest chain measured (None: L); the cost grows as length² (n L² m² per step)"
    )
    iterations: int = Field(20, ge=1, description="most Lanczos steps per W-chain norm (exact once >= m)")
    tol: float = Field(1e-5, ge=0, description="stop once every W-chain estimate changes by at most this, relative")


def chain_lengths(params: ChainParams, L: int) -> int:
    """How many lengths are measured: 1, …, min(max_length, L)."""
    return L if params.max_length is None else min(params.max_length, L)


class ChainNorms(Diagnostic):
    """Spectral norms of W D⋯D W and B D⋯D W chains, max over sequences and start layers (4.4)-(4.6).

    (4.4): ||W D_{i,l1} W ⋯ D_{i,l2} W||_2 <= O(L³) for every l1 >= l2, although ||W||_2 ≈ 2√2
    and a naive bound grows as 2^{length} (the paper conjectures O(1)); the B chains are the
    back-propagation matrices of Fact 2.5, of norm about sqrt(m/d) times a bounded factor
    (the scale behind (4.6)). ``chain_norm_w`` is a Lanczos estimate (a lower bound, exact to
    ``tol`` once converged); ``chain_norm_b`` is exact (SVD of d×m matrices).
    """

    name: ClassVar[str] = "chain_norms"
    Params: ClassVar[type[Params]] = ChainParams
    outputs: ClassVar[dict[str, Output]] = {
        "chain_norm_w": Output(
            long_name="max_{i,l2} ||W D_{i,l1} W ⋯ D_{i,l2} W||_2, l1 - l2 + 1 = length",
            paper_ref="(4.4)",
            dims=("length",),
        ),
        "chain_norm_b": Output(
            long_name="max_{i,l2} ||B D_{i,l1} W ⋯ D_{i,l2} W||_2, l1 - l2 + 1 = length",
            paper_ref="(4.6), Fact 2.5",
            dims=("length",),
        ),
    }

    def dim_sizes(self, params: ChainParams, shape: ProblemShape) -> dict[str, int]:
        return {"length": chain_lengths(params, shape.L)}

    def measure(self, params: ChainParams, probe: Probe) -> dict[str, Tensor]:
        lengths = chain_lengths(params, probe.problem.L)
        diagonals = probe.forward.pattern.to(probe.weights.W.dtype)  # diagonals of D, [K, n, L, m]
        return {
            "chain_norm_w": self._w_chains(params, probe, diagonals, lengths),
            "chain_norm_b": self._b_chains(probe, diagonals, lengths),
        }

    def _w_chains(self, params: ChainParams, probe: Probe, diagonals: Tensor, lengths: int) -> Tensor:
        """Per length k, all chains W D_{s+k-1} W ⋯ D_s W at once, by Lanczos on MᵀM."""
        W = probe.weights.W
        Wt = W.mT.contiguous()  # products with a transposed view round differently for K = 1 and K > 1
        K, n, L, m = diagonals.shape
        streams = probe.generators(self.name)
        norms = []
        for k in range(1, lengths + 1):
            S = L - k + 1  # start layers
            masks = [diagonals[:, :, j : j + S].reshape(K, n * S, m) for j in range(k)]  # D_{s+j}

            def normal_map(v: Tensor, masks: list[Tensor] = masks, S: int = S) -> Tensor:
                rows = v.reshape(K, n * S, m) @ Wt  # (W v)ᵀ
                for mask in masks:
                    rows = (rows * mask) @ Wt
                rows = rows @ W  # then Mᵀ = Wᵀ D_{s} Wᵀ ⋯ D_{s+k-1} Wᵀ
                for mask in reversed(masks):
                    rows = (rows * mask) @ W
                return rows.view(K, n, S, m)

            start = normal_per_member(streams, (n, S, m), W)
            estimate = top_singular_value(normal_map, start, params.iterations, params.tol, streams)
            norms.append(estimate.amax(dim=(1, 2)))
        return torch.stack(norms, dim=1)

    def _b_chains(self, probe: Probe, diagonals: Tensor, lengths: int) -> Tensor:
        """Per length k, every B D_{s+k-1} W ⋯ D_s W as a d×m matrix, built from length k-1 by
        ``C_{k+1}(s) = C_k(s+1) D_s W`` (all sequences and start layers at once)."""
        W, B = probe.weights.W, probe.weights.B
        K, n, L, m = diagonals.shape
        d = B.shape[1]
        chains = (B.view(K, 1, 1, d, m) * diagonals.unsqueeze(-2)).reshape(K, n * L * d, m) @ W
        chains = chains.view(K, n, L, d, m)  # position s: B D_s W
        norms = []
        for k in range(1, lengths + 1):
            norms.append(torch.linalg.matrix_norm(chains, ord=2).amax(dim=(1, 2)))
            if k < lengths:
                S = L - k  # starts of the chains of length k + 1
                extended = chains[:, :, 1:] * diagonals[:, :, :S].unsqueeze(-2)
                chains = (extended.reshape(K, n * S * d, m) @ W).view(K, n, S, d, m)
        return torch.stack(norms, dim=1)
