"""A plugin exactly as the first release's docs taught (API version 1), kept as it was written:
``from framework import ...``, ``Initializer.initialize(self, params, d_x, d, seed)`` returning
``Weights(W, A, B)``, and ``Optimizer.step`` without the ``network`` argument. The tests show
that the current overparam refuses it when it loads, naming each method and both signatures,
never at the grid points of a scan that validated."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import torch
from pydantic import Field
from torch import Tensor

from framework import (Initializer, InitializerParams, Optimizer, OptimizerParams, Params, Problem, Weights,
                       closed_form_gradient, hookimpl, seeded_generator)


class GainParams(InitializerParams):
    """The width and the gain of W's variance."""

    gain: float = Field(1.0, gt=0, description="W ~ N(0, gain * 2/m); gain 1 is Definition 2.3")


class GaussianGain(Initializer):
    """W ~ N(0, gain·2/m), A ~ N(0, 2/m), B ~ N(0, 1/d): Definition 2.3 with W's variance scaled."""

    name: ClassVar[str] = "gaussian_gain_v1"
    Params: ClassVar[type[Params]] = GainParams

    def initialize(self, params: GainParams, d_x: int, d: int, seed: int) -> Weights:
        """W, then A, then B from one CPU stream: with gain 1, exactly the built-in `paper`."""
        rng = seeded_generator(seed)
        m = params.m
        W = math.sqrt(params.gain * 2 / m) * torch.randn(1, m, m, generator=rng, dtype=torch.float64)
        A = math.sqrt(2 / m) * torch.randn(1, m, d_x, generator=rng, dtype=torch.float64)
        B = math.sqrt(1 / d) * torch.randn(1, d, m, generator=rng, dtype=torch.float64)
        return Weights(W, A, B)


class HeavyBallParams(OptimizerParams):
    """What every optimizer takes, and the momentum."""

    momentum: float = Field(0.9, ge=0, lt=1, description="β in v <- β v - η ∇f, W <- W + v; 0 is plain GD")


class HeavyBall(Optimizer):
    """Gradient descent with heavy-ball momentum: v <- β v - η ∇f(W), W <- W + v (Polyak 1964)."""

    name: ClassVar[str] = "heavy_ball_v1"
    Params: ClassVar[type[Params]] = HeavyBallParams

    def start(self, params: HeavyBallParams, problem: Problem, seeds: Sequence[int]) -> dict[str, Tensor]:
        """The velocities, by weight name; zero until the first step writes them."""
        return {}

    def step(
        self, params: HeavyBallParams, state: dict[str, Tensor], weights: Weights, problem: Problem, lr: Tensor
    ) -> Weights:
        """One full-batch step with the closed-form gradient (Fact 2.5) and per-member ``lr [K]``."""
        gradient = closed_form_gradient(weights, problem, params.trained)
        rate = lr.view(-1, 1, 1)
        moved = {}
        for name, g in gradient.items():
            velocity = params.momentum * state.get(name, torch.zeros_like(g)) - rate * g
            state[name] = velocity
            moved[name] = getattr(weights, name) + velocity
        return weights.replace(**moved)


@hookimpl
def overparam_register_initializers() -> list[type[Initializer]]:
    return [GaussianGain]


@hookimpl
def overparam_register_optimizers() -> list[type[Optimizer]]:
    return [HeavyBall]
