"""Semi-smoothness of the objective around the probed weights (Theorem 4)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import torch
from pydantic import Field, model_validator

from overparam import Diagnostic, Output, PipelinePath, Probe, SparseScheduleParams
from overparam.engine import member_sum, normal_per_member, seeded_generator

if TYPE_CHECKING:
    from torch import Tensor

DIRECTION_KEY = "direction"  # the array of a direction file: np.savez(path, direction=V), V of shape (m, m)


class SemiSmoothnessParams(SparseScheduleParams):
    """The size of W' and where its direction comes from: the probe's seed (default), a file or a seed."""

    tau: float = Field(1.0, gt=0, description="the perturbation W' has spectral norm tau/sqrt(m) (Theorem 4's τ0)")
    direction: PipelinePath | None = Field(
        None, description=f"an .npz file (relative to the pipeline file) whose array '{DIRECTION_KEY}' (m×m) is "
                          "the direction of W' (rescaled to spectral norm tau/sqrt(m)), the same for every member and step"
    )
    direction_seed: int | None = Field(
        None, ge=0, description="draw the Gaussian direction of W' from this seed, the same for every member and "
                                "step, instead of from the probe's seed"
    )

    @model_validator(mode="after")
    def _one_direction(self) -> SemiSmoothnessParams:
        if self.direction is not None and self.direction_seed is not None:
            raise ValueError("give either direction (a file) or direction_seed, not both")
        return self


def load_direction(path: Path, shape: tuple[int, int], weight: str) -> np.ndarray:
    """The direction array of an .npz file, of the ``shape`` of one matrix of ``weight`` (m×m
    for W), float64; ``ValueError`` naming the file when it has no array ``direction``, has
    another shape, or is not finite and nonzero."""
    with np.load(path, allow_pickle=False) as archive:
        if DIRECTION_KEY not in archive.files:
            raise ValueError(f"semi_smoothness: {path} has no array '{DIRECTION_KEY}' (it holds {sorted(archive.files)}); "
                             f"write it with numpy.savez(path, {DIRECTION_KEY}=V)")
        array = archive[DIRECTION_KEY]
    if array.shape != shape:
        raise ValueError(f"semi_smoothness: the direction in {path} has shape {array.shape}, but each matrix of "
                         f"{weight} is {shape[0]}×{shape[1]} (m = {shape[-1]}): it must have shape {shape}")
    if not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise ValueError(f"semi_smoothness: the direction in {path} holds {array.dtype} values, not real numbers")
    array = array.astype(np.float64)
    if not np.isfinite(array).all() or not array.any():
        raise ValueError(f"semi_smoothness: the direction in {path} must be finite and not all zero")
    return array


def at_spectral_norm(matrices: Tensor, norm: float) -> tuple[Tensor, Tensor]:
    """``matrices [..., a, b]`` each rescaled to spectral norm ``norm``, and each one's spectral
    norm before (``[...]``)."""
    before = torch.linalg.matrix_norm(matrices, ord=2)
    return matrices * (norm / before).unsqueeze(-1).unsqueeze(-1), before


class SemiSmoothness(Diagnostic):
    """Second-order remainder of f along a W' of spectral norm τ/sqrt(m), random or given (Theorem 4).

    Theorem 4: f(W + W') <= f(W) + <∇f(W), W'> + poly(ϱ) m^{1/3} sqrt(f(W)) ||W'||_2
    + poly(ρ) m ||W'||_2². The diagnostic reports the remainder
    ``f(W + W') - f(W) - <∇f(W), W'>`` beside the two scales it is bounded by,
    ``sqrt(f(W)) ||W'||_2`` and ``m ||W'||_2²``, and the first-order term itself; how many
    ReLU signs the perturbation flips, ``Σ_{i,l} ||D_{i,l}(W + W') - D_{i,l}(W)||_0`` (the
    proof of Theorem 4 bounds f's second-order change through these flips); and the spectral
    norm ``||V||_2`` of the direction before it is rescaled (the largest over a deep network's
    matrices). W' is a direction V rescaled to spectral norm exactly τ/sqrt(m),
    ``W' = τ/sqrt(m) · V/||V||_2``;
    V is a Gaussian matrix drawn from the probe's seed (each member and step its own), or,
    the same for every member and step, the array ``direction`` of the .npz file ``direction``
    or the Gaussian ``torch.randn(m, m, generator=torch.Generator().manual_seed(direction_seed),
    dtype=torch.float64)``.
    """

    name: ClassVar[str] = "semi_smoothness"
    Params: ClassVar[type[Params]] = SemiSmoothnessParams
    outputs: ClassVar[dict[str, Output]] = {
        "semi_smoothness_gap": Output(long_name="f(W + W') - f(W) - <∇f(W), W'>", paper_ref="Theorem 4", units="1"),
        "semi_smoothness_inner": Output(long_name="<∇f(W), W'>", paper_ref="Theorem 4", units="1"),
        "semi_smoothness_norm": Output(long_name="||W'||_2", paper_ref="Theorem 4", units="1"),
        "semi_smoothness_sqrt_f_norm": Output(long_name="sqrt(f(W)) ||W'||_2", paper_ref="Theorem 4", units="1"),
        "semi_smoothness_m_norm2": Output(long_name="m ||W'||_2²", paper_ref="Theorem 4", units="1"),
        "semi_smoothness_flips": Output(long_name="Σ_{i,l} ||D_{i,l}(W + W') - D_{i,l}(W)||_0", paper_ref="Theorem 4",
                                        dtype="int64"),
        "semi_smoothness_direction_norm": Output(long_name="||V||_2 of the direction before rescaling",
                                                 paper_ref="Theorem 4"),
    }

    def perturbation(self, params: SemiSmoothnessParams, probe: Probe) -> Tensor:
        """The W' of this measurement, of the primary weight's shape (``[K, m, m]`` for the Elman
        network's W): the direction scaled so that each of its matrices (the last two axes:
        W_1..W_depth of a deep network, each bounded so in the companion paper) has spectral
        norm τ/sqrt(m)."""
        return self._scaled_direction(params, probe)[0]

    def _scaled_direction(self, params: SemiSmoothnessParams, probe: Probe) -> tuple[Tensor, Tensor]:
        """W', and the largest spectral norm of the direction's matrices before rescaling, ``[K]``."""
        W = probe.weights[probe.primary]
        scale = params.tau / math.sqrt(probe.m)
        if params.direction is None and params.direction_seed is None:
            gaussian = normal_per_member(probe.generators(self.name), W.shape[1:], W)
            shift, before = at_spectral_norm(gaussian, scale)
            return shift, before.reshape(probe.K, -1).amax(dim=1)
        if params.direction is not None:
            matrix = torch.from_numpy(load_direction(params.direction, tuple(W.shape[-2:]), probe.primary))
            direction = matrix.expand(W.shape[1:])  # the same matrix in every layer
        else:
            stream = seeded_generator(params.direction_seed)
            direction = torch.randn(*W.shape[1:], generator=stream, dtype=torch.float64)
        shift, before = at_spectral_norm(direction, scale)  # float64, once for all members
        largest = before.amax().to(W).expand(probe.K)
        return shift.to(W).expand(probe.K, *W.shape[1:]), largest

    def measure(self, params: SemiSmoothnessParams, probe: Probe) -> dict[str, Tensor]:
        shift, direction_norm = self._scaled_direction(params, probe)
        f = probe.forward.loss
        moved_weight = probe.weights[probe.primary] + shift
        moved = probe.network.forward(probe.weights.replace(**{probe.primary: moved_weight}), probe.problem)
        inner = member_sum(probe.gradient * shift)
        norm = torch.full_like(f, params.tau / math.sqrt(probe.m))
        flips = (moved.pattern != probe.forward.pattern).flatten(start_dim=1).sum(dim=1)
        return {
            "semi_smoothness_gap": moved.loss - f - inner,
            "semi_smoothness_inner": inner,
            "semi_smoothness_norm": norm,
            "semi_smoothness_sqrt_f_norm": f.sqrt() * norm,
            "semi_smoothness_m_norm2": probe.m * norm.square(),
            "semi_smoothness_flips": flips,
            "semi_smoothness_direction_norm": direction_norm,
        }
