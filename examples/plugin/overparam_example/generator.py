"""`sine_waves`: each sequence samples a sine of its own frequency and phase; the target at
every layer is the next sample (one-step-ahead prediction)."""
from __future__ import annotations

import math
from typing import ClassVar

import torch
from pydantic import Field, model_validator

from overparam import Generator, Params, Problem
from overparam.engine import first_input_separation, pad_to_unit_norm, seeded_generator


class SineParams(Params):
    """Sizes of the task and the range of frequencies."""

    n: int = Field(8, ge=1, description="number of sequences")
    L: int = Field(8, ge=2, description="sequence length (layers)")
    frequency_min: float = Field(0.2, gt=0, description="smallest frequency, radians per step")
    frequency_max: float = Field(1.0, gt=0, le=math.pi, description="largest frequency, radians per step")
    target_scale: float = Field(1.0, gt=0, description="targets are target_scale times the next sample")

    @model_validator(mode="after")
    def _frequencies_ordered(self) -> SineParams:
        if self.frequency_min > self.frequency_max:
            raise ValueError(f"frequency_min ({self.frequency_min}) must not exceed frequency_max ({self.frequency_max})")
        return self


class SineWaves(Generator[SineParams]):
    """Sampled sine waves of random frequency and phase; the target is the next sample."""

    name: ClassVar[str] = "sine_waves"
    Params: ClassVar[type[Params]] = SineParams

    def shape(self, params: SineParams) -> tuple[int, int, int, int]:
        """``(n, L, 3, 1)``: one sample padded to three coordinates in, the next sample out."""
        return (params.n, params.L, 3, 1)

    def generate(self, params: SineParams, seed: int) -> Problem:
        """``s_{i,l} = sin(ω_i l + φ_i)``; the input ``x_{i,l}`` is the sample padded as in the
        paper's footnote 5 to unit norm with last coordinate 1/sqrt(2) (d_x = 3); the target
        ``y_{i,l} = target_scale · s_{i,l+1}`` (d = 1); δ is measured."""
        rng = seeded_generator(seed)
        n, L = params.n, params.L
        low, high = params.frequency_min, params.frequency_max
        frequency = low + (high - low) * torch.rand(n, 1, generator=rng, dtype=torch.float64)
        phase = 2 * math.pi * torch.rand(n, 1, generator=rng, dtype=torch.float64)
        samples = torch.sin(frequency * torch.arange(L + 1, dtype=torch.float64) + phase)  # [n, L + 1]
        X = pad_to_unit_norm(samples[:, :L, None])
        Y = params.target_scale * samples[:, 1:, None]
        delta = torch.tensor([first_input_separation(X)], dtype=torch.float64)
        return Problem(X.unsqueeze(0), Y.unsqueeze(0), delta)
