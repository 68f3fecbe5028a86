"""Built-in initializers: the paper's random initialization (Definition 2.3)."""
from __future__ import annotations

import math
from typing import ClassVar

import torch

from framework import Initializer, InitializerParams, Params, Weights, seeded_generator


def gaussian(shape: tuple[int, ...], variance: float, rng: torch.Generator) -> torch.Tensor:
    """i.i.d. N(0, variance) entries (the paper's second argument is the variance), float64."""
    return math.sqrt(variance) * torch.randn(*shape, generator=rng, dtype=torch.float64)


class PaperInitialization(Initializer):
    """W, A ~ N(0, 2/m) and B ~ N(0, 1/d) entrywise (Definition 2.3)."""

    name: ClassVar[str] = "paper"
    Params: ClassVar[type[Params]] = InitializerParams

    def initialize(self, params: InitializerParams, d_x: int, d: int, seed: int) -> Weights:
        """Draws W, then A, then B from one CPU stream seeded by ``seed``."""
        rng = seeded_generator(seed)
        m = params.m
        W = gaussian((1, m, m), 2 / m, rng)
        A = gaussian((1, m, d_x), 2 / m, rng)
        B = gaussian((1, d, m), 1 / d, rng)
        return Weights(W, A, B)
