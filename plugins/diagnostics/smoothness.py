"""Semi-smoothness of the objective around the probed weights (Theorem 4)."""
from __future__ import annotations

import math
from typing import ClassVar

import torch
from pydantic import Field
from torch import Tensor

from framework import Diagnostic, Output, Params, Probe, SparseScheduleParams, loss, member_sum, normal_per_member


class SemiSmoothnessParams(SparseScheduleParams):
    tau: float = Field(1.0, gt=0, description="the perturbation W' has spectral norm tau/sqrt(m) (Theorem 4's τ0)")


class SemiSmoothness(Diagnostic):
    """Second-order remainder of f along a random W' of spectral norm τ/sqrt(m) (Theorem 4).

    Theorem 4: f(W + W') <= f(W) + <∇f(W), W'> + poly(ϱ) m^{1/3} sqrt(f(W)) ||W'||_2
    + poly(ρ) m ||W'||_2². The diagnostic reports the remainder
    ``f(W + W') - f(W) - <∇f(W), W'>`` beside the two scales it is bounded by,
    ``sqrt(f(W)) ||W'||_2`` and ``m ||W'||_2²``, and the first-order term itself. W' is a
    Gaussian matrix rescaled to spectral norm exactly τ/sqrt(m), drawn from the probe's seed.
    """

    name: ClassVar[str] = "semi_smoothness"
    Params: ClassVar[type[Params]] = SemiSmoothnessParams
    outputs: ClassVar[dict[str, Output]] = {
        "semi_smoothness_gap": Output(long_name="f(W + W') - f(W) - <∇f(W), W'>", paper_ref="Theorem 4"),
        "semi_smoothness_inner": Output(long_name="<∇f(W), W'>", paper_ref="Theorem 4"),
        "semi_smoothness_norm": Output(long_name="||W'||_2", paper_ref="Theorem 4"),
        "semi_smoothness_sqrt_f_norm": Output(long_name="sqrt(f(W)) ||W'||_2", paper_ref="Theorem 4"),
        "semi_smoothness_m_norm2": Output(long_name="m ||W'||_2²", paper_ref="Theorem 4"),
    }

    def perturbation(self, params: SemiSmoothnessParams, probe: Probe) -> Tensor:
        """The W' of this measurement, ``[K, m, m]``: Gaussian, scaled to ||W'||_2 = τ/sqrt(m)."""
        W = probe.weights.W
        gaussian = normal_per_member(probe.generators(self.name), W.shape[1:], W)
        spectral = torch.linalg.matrix_norm(gaussian, ord=2).view(-1, 1, 1)
        return gaussian * (params.tau / math.sqrt(probe.m) / spectral)

    def measure(self, params: SemiSmoothnessParams, probe: Probe) -> dict[str, Tensor]:
        shift = self.perturbation(params, probe)
        f = probe.forward.loss
        moved = loss(probe.weights.replace(W=probe.weights.W + shift), probe.problem)
        inner = member_sum(probe.gradient * shift)
        norm = torch.full_like(f, params.tau / math.sqrt(probe.m))
        return {
            "semi_smoothness_gap": moved - f - inner,
            "semi_smoothness_inner": inner,
            "semi_smoothness_norm": norm,
            "semi_smoothness_sqrt_f_norm": f.sqrt() * norm,
            "semi_smoothness_m_norm2": probe.m * norm.square(),
        }
