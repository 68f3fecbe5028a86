"""`gaussian_gain`: the paper's initialization with W's variance multiplied by a gain."""
from __future__ import annotations

import math
from typing import ClassVar

import torch
from pydantic import Field

from overparam import Initializer, InitializerParams, Params, WeightLayout, Weights
from overparam.engine import ELMAN_DIMS, seeded_generator


class GainParams(InitializerParams):
    """The width and the gain of W's variance."""

    gain: float = Field(1.0, gt=0, description="W ~ N(0, gain * 2/m); gain 1 is Definition 2.3")


class GaussianGain(Initializer[GainParams]):
    """W ~ N(0, gain·2/m), A ~ N(0, 2/m), B ~ N(0, 1/d): Definition 2.3 with W's variance scaled."""

    name: ClassVar[str] = "gaussian_gain"
    Params: ClassVar[type[Params]] = GainParams
    dims = ELMAN_DIMS  # the Elman network's W, A, B (and any model with the same weights)

    def initialize(self, params: GainParams, layout: WeightLayout, seed: int) -> Weights:
        """W, then A, then B from one CPU stream: with gain 1, exactly the built-in `paper`."""
        rng = seeded_generator(seed)
        m, d = layout.sizes["m"], layout.sizes["d"]
        W = math.sqrt(params.gain * 2 / m) * torch.randn(layout.shape("W"), generator=rng, dtype=torch.float64)
        A = math.sqrt(2 / m) * torch.randn(layout.shape("A"), generator=rng, dtype=torch.float64)
        B = math.sqrt(1 / d) * torch.randn(layout.shape("B"), generator=rng, dtype=torch.float64)
        return layout.weights({"W": W, "A": A, "B": B})
