"""The training loop of one ensemble: update steps, the logging schedule, divergence masking."""
from __future__ import annotations

from typing import TYPE_CHECKING

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from framework.components import Optimizer, Params
from framework.ensemble import Problem, Weights
from framework.rnn import loss as loss_of

if TYPE_CHECKING:
    from torch import Tensor

LogCallback = Callable[[int, Weights, "Tensor"], None]


def log_schedule(steps: int, points: int = 40) -> list[int]:
    """Step 0, about ``points`` logarithmically spaced steps, and the last step ``steps``.

    Linear convergence makes log f linear in t, so early steps need dense logging and late
    ones little; the schedule depends only on (steps, points), so every job of a scan logs
    the same steps (the store's ``step`` dimension).
    """
    if steps < 0 or points < 1:
        raise ValueError(f"need steps >= 0 and points >= 1, got steps={steps}, points={points}")
    if steps == 0:
        return [0]
    spaced = {round(math.exp(math.log(steps) * j / (points - 1))) for j in range(points)} if points > 1 else set()
    return sorted({0, steps} | spaced)


@dataclass(frozen=True)
class Trajectory:
    """What a training run leaves: the logged steps, f at each ``[steps, K]``, final weights,
    and for each member the first logged step whose loss was not finite (-1: never)."""

    steps: list[int]
    loss: Tensor
    weights: Weights
    diverged_at: Tensor

    @property
    def diverged(self) -> Tensor:
        """Which members diverged, ``[K]`` bool."""
        return self.diverged_at >= 0


def train(
    optimizer: Optimizer,
    params: Params,
    weights: Weights,
    problem: Problem,
    lr: Tensor,
    seeds: Sequence[int],
    schedule: Sequence[int],
    on_log: LogCallback | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> Trajectory:
    """Run ``max(schedule)`` update steps of ``optimizer`` on the ensemble.

    At each step of ``schedule`` (before that step's update) f is measured and
    ``on_log(step, weights, f)`` is called (``on_step(step, steps)`` after every update, for
    progress); a member whose f is NaN or infinite is marked diverged there and its learning rate
    is set to 0, so it stays where it failed while the others go on. Divergence is checked only
    on the schedule: no host synchronization inside the step loop.
    """
    steps = max(schedule)
    logged = sorted(set(schedule))
    state = optimizer.start(params, problem, seeds)
    lr = lr.to(device=weights.W.device, dtype=weights.W.dtype)
    diverged_at = torch.full((weights.K,), -1, dtype=torch.long)
    losses = []
    next_log = 0
    for t in range(steps + 1):
        if t == logged[next_log]:
            f = loss_of(weights, problem)
            losses.append(f)
            newly = ~torch.isfinite(f).cpu() & (diverged_at < 0)
            diverged_at[newly] = t
            if newly.any():
                lr = torch.where(newly.to(lr.device), torch.zeros_like(lr), lr)
            if on_log is not None:
                on_log(t, weights, f)
            next_log += 1
        if t < steps:
            weights = optimizer.step(params, state, weights, problem, lr)
            if on_step is not None:
                on_step(t + 1, steps)
    return Trajectory(logged, torch.stack(losses), weights, diverged_at)
