"""`heavy_ball`: gradient descent with Polyak's heavy-ball momentum, on the trained weights."""
from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch
from pydantic import Field
from torch import Tensor

from overparam import Network, Optimizer, OptimizerParams, Params, Problem, Weights
from overparam.engine import per_member


class HeavyBallParams(OptimizerParams):
    """What every optimizer takes, and the momentum."""

    momentum: float = Field(0.9, ge=0, lt=1, description="β in v <- β v - η ∇f, W <- W + v; 0 is plain GD")


class HeavyBall(Optimizer[HeavyBallParams]):
    """Gradient descent with heavy-ball momentum: v <- β v - η ∇f(W), W <- W + v (Polyak 1964)."""

    name: ClassVar[str] = "heavy_ball"
    Params: ClassVar[type[Params]] = HeavyBallParams

    def start(self, params: HeavyBallParams, problem: Problem, seeds: Sequence[int]) -> dict[str, Tensor]:
        """The velocities, by weight name; zero until the first step writes them."""
        return {}

    def step(
        self, params: HeavyBallParams, state: dict[str, Tensor], weights: Weights, problem: Problem, lr: Tensor,
        network: Network,
    ) -> Weights:
        """One full-batch step along the network's gradient with per-member ``lr [K]``."""
        gradient = network.gradient(weights, problem, params.trained)
        moved = {}
        for name, g in gradient.items():
            velocity = params.momentum * state.get(name, torch.zeros_like(g)) - per_member(lr, g) * g
            state[name] = velocity
            moved[name] = getattr(weights, name) + velocity
        return weights.replace(**moved)
