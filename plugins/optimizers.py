"""Built-in update rules: GD (Theorem 1), SGD (Theorem 2) and mini-batch SGD.

All three step along the network's gradient (for the Elman network, the closed form of Fact 2.5)
with per-member learning rates ``lr [K]``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar

import torch
from pydantic import Field

from overparam import Network, Optimizer, OptimizerParams, Problem, Weights, hookimpl
from overparam.engine import aligned_rows, per_member, seeded_generator

if TYPE_CHECKING:
    from torch import Tensor

SAMPLE_BLOCK = 256


def descend(weights: Weights, gradient: Mapping[str, Tensor], lr: Tensor, scale: float = 1.0) -> Weights:
    """``θ <- θ - lr_k · scale · ∇θ`` for every trained θ, member by member."""
    step = lr * scale
    return weights.replace(**{name: torch.addcmul(weights[name], per_member(step, g), g, value=-1)
                              for name, g in gradient.items()})


class GradientDescent(Optimizer):
    """Full-batch gradient descent, W <- W - η ∇f(W) (Theorem 1)."""

    name: ClassVar[str] = "gd"
    capturable: ClassVar[bool] = True

    def step(self, params: OptimizerParams, state: None, weights: Weights, problem: Problem, lr: Tensor,
             network: Network) -> Weights:
        return descend(weights, network.gradient(weights, problem, params.trained), lr)


class SequenceSampler:
    """Per-member streams of b sequence indices per step, drawn without replacement.

    Each member has its own CPU generator, so a member draws the same indices whichever
    ensemble it is part of; indices are drawn a block of steps at a time, so the step loop
    itself has no loop over members.
    """

    def __init__(self, seeds: Sequence[int], n: int, batch_size: int, device: torch.device):
        if not 1 <= batch_size <= n:
            raise ValueError(f"batch_size must be between 1 and n = {n}, got {batch_size}")
        self.streams = [seeded_generator(seed) for seed in seeds]
        self.n, self.batch_size, self.device = n, batch_size, device
        self.block = torch.empty(len(seeds), 0, batch_size, dtype=torch.long)
        self.position = 0

    def _draw_block(self) -> None:
        """The next ``SAMPLE_BLOCK`` steps' samples of every member: a random order of the n
        sequences per step, from uniform draws in float32 whatever the process's default dtype
        (a default changed by other code must not change which sequences SGD samples)."""
        draws = [torch.rand(SAMPLE_BLOCK, self.n, generator=g, dtype=torch.float32).argsort(dim=1)[:, : self.batch_size]
                 for g in self.streams]
        self.block = torch.stack(draws).to(self.device)
        self.position = 0

    def next(self) -> Tensor:
        """The sequences of the next step, ``[K, b]``."""
        if self.position == self.block.shape[1]:
            self._draw_block()
        index = self.block[:, self.position]
        self.position += 1
        return index


class MinibatchParams(OptimizerParams):
    batch_size: int = Field(2, ge=1, description="sequences per step, drawn without replacement")


class MinibatchSGD(Optimizer):
    """Mini-batch SGD: W <- W - η (1/b) Σ_{i in S} ∇f_i(W), S of b sequences without replacement."""

    name: ClassVar[str] = "minibatch"
    Params: ClassVar[type[Params]] = MinibatchParams
    full_batch: ClassVar[bool] = False

    def batch_size(self, params: OptimizerParams) -> int:
        return params.batch_size

    def start(self, params: OptimizerParams, problem: Problem, seeds: Sequence[int]) -> SequenceSampler:
        return SequenceSampler(seeds, problem.n, self.batch_size(params), problem.X.device)

    def step(
        self, params: OptimizerParams, state: SequenceSampler, weights: Weights, problem: Problem, lr: Tensor,
        network: Network,
    ) -> Weights:
        batch = problem.sequences(state.next(), multiple=aligned_rows(problem.X.dtype))
        gradient = network.gradient(weights, batch, params.trained)
        return descend(weights, gradient, lr, scale=1.0 / state.batch_size)


class StochasticGradientDescent(MinibatchSGD):
    """SGD, one sequence drawn uniformly per step: W <- W - η ∇f_i(W) (Theorem 2)."""

    name: ClassVar[str] = "sgd"
    Params: ClassVar[type[Params]] = OptimizerParams

    def batch_size(self, params: OptimizerParams) -> int:
        return 1


@hookimpl
def overparam_register_optimizers() -> list[type[Optimizer]]:
    """`gd`, `sgd` and `minibatch`."""
    return [GradientDescent, StochasticGradientDescent, MinibatchSGD]
