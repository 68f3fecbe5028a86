"""The tangent kernel K = J Jᵀ of the residuals along training: its spectrum (Theorem 3) and how
far it moves from K_0 (the linearization that semi-smoothness, Theorem 4, keeps training near).

J is the Jacobian of the scored residuals in the model's default-trained weights (W), so
||∇f||² = rᵀ K r >= 2 λ_min(K) f and ``pl_ratio`` >= 2 λ_min(K)/m: Theorem 3's gradient lower
bound is a lower bound on λ_min(K)/m. ``overparam.engine.TangentKernel`` gives K v from one pull-back
and one tangent product; the matrix is N such products (N = P·n·d rows: (L-1)·n·d for §2.2).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

import torch
from pydantic import Field

from overparam import Diagnostic, Output, Params, Probe
from overparam.engine import extreme_eigenvalues, member_sum, normal_per_member

if TYPE_CHECKING:
    from torch import Tensor


class SpectrumParams(Params):
    method: Literal["auto", "dense", "lanczos"] = Field(
        "auto", description="dense: eigenvalues of the assembled K (N products); lanczos: matrix-free; "
                            "auto: dense when N <= dense_up_to")
    dense_up_to: int = Field(512, ge=1, description="auto assembles K when its order N is at most this")
    iterations: int = Field(200, ge=1, description="lanczos: at most this many products with K (and at most N)")
    tol: float = Field(1e-6, ge=0, lt=1, description="lanczos: stop when both ends' relative error bounds are below")


class KernelSpectrum(Diagnostic):
    """Extreme eigenvalues of the tangent kernel J Jᵀ, divided by m, and its condition number (Theorem 3).

    ``kernel_min`` = λ_min(K)/m is what Theorem 3's gradient lower bound bounds below (by
    Ω(δ/poly(ρ)), up to the factor 2 of ``pl_ratio >= 2·kernel_min``); ``kernel_max`` = λ_max/m
    sets the largest stable step size 2/λ_max of GD on the linearized model; their ratio is the
    linear rate's condition number. ``kernel_error`` bounds the relative error of both ends: the
    Lanczos residual bound ``min(ρ, ρ²/γ)/θ``, or, for the dense eigenvalues, the round-off
    estimate N·ε·λ_max/λ_min (Weyl's bound for a backward-stable solver).
    """

    name: ClassVar[str] = "kernel_spectrum"
    Params: ClassVar[type[Params]] = SpectrumParams
    outputs: ClassVar[dict[str, Output]] = {
        "kernel_min": Output(long_name="λ_min(J Jᵀ) / m, J the Jacobian of the residuals in W",
                             paper_ref="Theorem 3"),
        "kernel_max": Output(long_name="λ_max(J Jᵀ) / m", paper_ref="Theorem 3 (upper bound)"),
        "kernel_condition": Output(long_name="λ_max(J Jᵀ) / λ_min(J Jᵀ)", paper_ref="Theorems 1, 3"),
        "kernel_error": Output(long_name="bound on the relative error of kernel_min and kernel_max",
                               paper_ref="Theorem 3"),
    }

    def measure(self, params: SpectrumParams, probe: Probe) -> dict[str, Tensor]:
        kernel = probe.kernel
        dense = params.method == "dense" or (params.method == "auto" and kernel.size <= params.dense_up_to)
        if dense:
            values = torch.linalg.eigvalsh(probe.kernel_matrix)
            low, high = values[:, 0], values[:, -1]
            eps = torch.finfo(values.dtype).eps
            error = kernel.size * eps * high.abs() / low.abs()
        else:
            start = normal_per_member(probe.generators(self.name), (kernel.size,), kernel.state.residual_members)
            found = extreme_eigenvalues(kernel.apply, start, params.iterations, params.tol,
                                        probe.generators(self.name + ".restart"))
            low, high, error = found.low, found.high, torch.maximum(found.low_error, found.high_error)
        return {"kernel_min": low / probe.m, "kernel_max": high / probe.m, "kernel_condition": high / low,
                "kernel_error": error}


class KernelDrift(Diagnostic):
    """How far the tangent kernel has moved from K_0: relative change and alignment (lazy training).

    ``kernel_drift`` = ||K_t - K_0||_F / ||K_0||_F and ``kernel_alignment`` =
    ⟨K_t, K_0⟩ / (||K_t||_F ||K_0||_F): the first is 0 and the second 1 as long as training stays
    in the linear regime around W0 that Theorem 4's semi-smoothness describes; the alignment is
    scale-free, so a kernel that grows or shrinks as a whole keeps it at 1, while one that
    changes its shape lowers it. Costs two assembled kernels: K_t at every measurement, K_0
    once per training.
    """

    name: ClassVar[str] = "kernel_drift"
    outputs: ClassVar[dict[str, Output]] = {
        "kernel_drift": Output(long_name="||K_t - K_0||_F / ||K_0||_F, K = J Jᵀ", paper_ref="Theorem 4"),
        "kernel_alignment": Output(long_name="<K_t, K_0> / (||K_t||_F ||K_0||_F)", paper_ref="Theorem 4"),
    }

    def measure(self, params: Params, probe: Probe) -> dict[str, Tensor]:
        now, start = probe.kernel_matrix, probe.kernel_matrix0
        size0 = member_sum(start.square()).sqrt()
        return {"kernel_drift": member_sum((now - start).square()).sqrt() / size0,
                "kernel_alignment": member_sum(now * start) / (member_sum(now.square()).sqrt() * size0)}
