"""How far training has moved the network from its initialization (§5, Theorems 3-4).

Theorems 3-4 hold within spectral distance poly(ϱ)/sqrt(m) of the initialization, and (5.1)
says that inside that ball the forward pass barely changes: few ReLU signs flip and h, g
move by O(m^{-1/2}). These diagnostics measure the distance and the changes.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

import torch
from pydantic import Field

from overparam import Diagnostic, Output, Params, Probe, ProblemShape
from overparam.engine import member_sum, normal_per_member, top_singular_value

if TYPE_CHECKING:
    from torch import Tensor


class DPrimeSparsity(Diagnostic):
    """ReLU patterns changed since initialization, ||D_{i,l} - D0_{i,l}||_0 (5.1).

    (5.1): at most O(m^{2/3}) of the m signs flip at any (i, l) within the radius of
    Theorems 3-4, a vanishing fraction m^{-1/3} as m grows. The counts are int64.
    """

    name: ClassVar[str] = "dprime_sparsity"
    needs: ClassVar[frozenset[str]] = frozenset({"layers"})
    outputs: ClassVar[dict[str, Output]] = {
        "dprime_max": Output(
            long_name="max_{i,l} ||D_{i,l} - D0_{i,l}||_0", paper_ref="(5.1)", dtype="int64", units="1"
        ),
        "dprime_mean": Output(long_name="mean_{i,l} ||D_{i,l} - D0_{i,l}||_0", paper_ref="(5.1)", units="1"),
        "dprime_by_layer": Output(
            long_name="max_i ||D_{i,l} - D0_{i,l}||_0", paper_ref="(5.1)", dims=("layer",), dtype="int64", units="1"
        ),
    }

    def dim_sizes(self, params: Params, shape: ProblemShape) -> dict[str, int]:
        return {"layer": shape.layers}

    def measure(self, params: Params, probe: Probe) -> dict[str, Tensor]:
        flips = (probe.forward.pattern != probe.forward0.pattern).sum(dim=-1, dtype=torch.int64)  # [K, n, L]
        return {
            "dprime_max": flips.amax(dim=(1, 2)),
            "dprime_mean": flips.to(probe.weights.W.dtype).mean(dim=(1, 2)),
            "dprime_by_layer": flips.amax(dim=1),
        }


class PerturbationNorms(Diagnostic):
    """Change of the forward pass since initialization, max over sequences per layer (5.1).

    (5.1): ||h_{i,l} - h0_{i,l}||, ||g_{i,l} - g0_{i,l}|| and ||D'_{i,l} g_{i,l}|| (D' = D - D0,
    the flipped coordinates of g) are all O(m^{-1/2}) within the radius of Theorems 3-4,
    with no exponential growth in l.
    """

    name: ClassVar[str] = "perturbation_norms"
    needs: ClassVar[frozenset[str]] = frozenset({"layers"})
    outputs: ClassVar[dict[str, Output]] = {
        "h_perturbation": Output(
            long_name="max_i ||h_{i,l} - h0_{i,l}||", paper_ref="(5.1)", dims=("layer",), units="1"
        ),
        "g_perturbation": Output(
            long_name="max_i ||g_{i,l} - g0_{i,l}||", paper_ref="(5.1)", dims=("layer",), units="1"
        ),
        "dprime_g": Output(
            long_name="max_i ||(D_{i,l} - D0_{i,l}) g_{i,l}||", paper_ref="(5.1)", dims=("layer",), units="1"
        ),
    }

    def dim_sizes(self, params: Params, shape: ProblemShape) -> dict[str, int]:
        return {"layer": shape.layers}

    def measure(self, params: Params, probe: Probe) -> dict[str, Tensor]:
        now, then = probe.forward, probe.forward0
        flipped = now.pattern != then.pattern
        return {
            "h_perturbation": (now.h - then.h).norm(dim=-1).amax(dim=1),
            "g_perturbation": (now.g - then.g).norm(dim=-1).amax(dim=1),
            "dprime_g": (now.g * flipped).norm(dim=-1).amax(dim=1),
        }


class SpectralParams(Params):
    """Accuracy of a Lanczos estimate of a spectral norm (``overparam.engine.top_singular_value``)."""

    iterations: int = Field(100, ge=1, description="most Lanczos steps per spectral norm (exact once >= m)")
    tol: float = Field(
        1e-10, ge=0, description="stop once the estimate's step change and a-posteriori error are both at most this, relative"
    )


class WeightDistance(Diagnostic):
    """Distance travelled from the initialization, ||W - W0||_2 and ||W - W0||_F (Theorems 3-4).

    Theorems 3-4 (and so the convergence proofs) need ||W - W0||_2 <= poly(ϱ)/sqrt(m); the
    ``_sqrt_m`` outputs multiply by sqrt(m), so the theory predicts they stay bounded as m
    grows. The spectral norm is a Lanczos estimate (a lower bound, exact to ``tol``): an SVD
    of W - W0 would alone cost two training steps at m = 1024. W is the model's primary
    weight (``Probe.primary``); where it holds several matrices (the feed-forward network's
    W_1..W_depth, each bounded so in the companion paper's Theorems 3-4), the spectral norm
    is the largest of theirs and the Frobenius norm is that of all of them together.
    """

    name: ClassVar[str] = "weight_distance"
    Params: ClassVar[type[Params]] = SpectralParams
    outputs: ClassVar[dict[str, Output]] = {
        "weight_distance_spectral": Output(long_name="||W - W0||_2", paper_ref="Theorems 3-4", units="1"),
        "weight_distance_frobenius": Output(long_name="||W - W0||_F", paper_ref="Theorems 3-4", units="1"),
        "weight_distance_spectral_sqrt_m": Output(
            long_name="sqrt(m) ||W - W0||_2", paper_ref="Theorems 3-4", units="1"
        ),
        "weight_distance_frobenius_sqrt_m": Output(
            long_name="sqrt(m) ||W - W0||_F", paper_ref="Theorems 3-4", units="1"
        ),
    }

    def measure(self, params: SpectralParams, probe: Probe) -> dict[str, Tensor]:
        name = probe.primary
        moved = probe.weights[name] - probe.initial[name]  # [K, m, m], or [K, depth, m, m]
        streams = probe.generators(self.name)
        matrices = moved.reshape(probe.K, -1, *moved.shape[-2:])
        spectral = torch.stack([self.spectral_norm(params, matrices[:, i], streams)
                                for i in range(matrices.shape[1])]).amax(dim=0)
        frobenius = member_sum(moved.square()).sqrt()
        root_m = math.sqrt(probe.m)
        return {
            "weight_distance_spectral": spectral,
            "weight_distance_frobenius": frobenius,
            "weight_distance_spectral_sqrt_m": spectral * root_m,
            "weight_distance_frobenius_sqrt_m": frobenius * root_m,
        }

    @staticmethod
    def spectral_norm(params: SpectralParams, moved: Tensor, streams: list) -> Tensor:
        """``||ΔW||_2`` of one matrix per member, ``moved [K, a, b]``, by Lanczos on ΔWᵀ ΔW."""
        start = normal_per_member(streams, (moved.shape[-1],), moved)

        def normal_map(v: Tensor) -> Tensor:  # v [K, b] -> (ΔWᵀ ΔW v) [K, b]
            # sums of elementwise products: a matrix-vector kernel would round by each member's
            # place in the ensemble
            moved_v = (moved * v.unsqueeze(1)).sum(dim=-1)  # ΔW v
            return (moved * moved_v.unsqueeze(-1)).sum(dim=-2)  # ΔWᵀ (ΔW v)

        return top_singular_value(normal_map, start, params.iterations, params.tol, streams)
