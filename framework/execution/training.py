"""The training loop of one ensemble: update steps, f logged on the schedule, divergence masking."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import torch

from framework.contract.components import Optimizer, Params
from framework.execution.captured_step import CapturedStep, capture_possible
from framework.engine.tensors import Problem, Weights
from framework.engine.network import Forward, Network

if TYPE_CHECKING:
    from torch import Tensor

LogCallback = Callable[[int, Weights, "Tensor", "Tensor"], None]  # step, weights, f [K], diverged [K]


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
    network: Network,
    on_log: LogCallback | None = None,
    on_step: Callable[[int, int], None] | None = None,
    capture: bool = True,
    every_step_loss: Tensor | None = None,
) -> Trajectory:
    """Run ``max(schedule)`` update steps of ``optimizer`` on the ensemble of ``network``.

    At each step of ``schedule`` (before that step's update) f is measured and
    ``on_log(step, weights, f, diverged)`` is called (``on_step(step, steps)`` after every
    update, for progress); a member whose f is NaN or infinite is marked diverged there and its
    learning rate is set to 0, so it stays where it failed while the others go on. This loop is
    the one place divergence is tracked: ``diverged`` ``[K]`` (bool, CPU) tells the callback
    which members have diverged so far, and the trajectory's ``diverged_at`` where. It is
    checked only on the schedule: no host synchronization inside the step loop.

    ``every_step_loss`` ``[steps + 1, K]``, when given, receives f(W_t) at every step t whose
    update computed it: the forward pass of a full-batch gradient (GD's) gives it for free
    (``_LossKeeper``); a rule that never computes f on the whole training set (SGD) leaves
    those rows as they are (the caller fills the logged ones).

    On a GPU, a capturable rule's steps run as one CUDA graph replayed per step (``capture``,
    ``framework.execution.captured_step``); each logged step leaves it: f and ``on_log`` see a
    copy of the weights then (the last step is always logged, so the trajectory's weights are
    that copy too).
    """
    steps = max(schedule)
    logged = sorted(set(schedule))
    state = optimizer.start(params, problem, seeds)
    lr = lr.to(device=weights.device, dtype=weights.dtype)
    keeper = _LossKeeper(network, problem, weights.K) if every_step_loss is not None else None
    stepped: Network = keeper if keeper is not None else network  # type: ignore[assignment]
    captured = (CapturedStep(optimizer, params, state, weights, problem, lr, stepped)
                if capture and steps > 0 and capture_possible(optimizer, weights) else None)
    diverged_at = torch.full((weights.K,), -1, dtype=torch.long)
    losses = []
    next_log = 0
    for t in range(steps + 1):
        if t == logged[next_log]:
            if captured is not None:
                weights = captured.snapshot()
            f = network.loss(weights, problem)
            losses.append(f)
            newly = ~torch.isfinite(f).cpu() & (diverged_at < 0)
            diverged_at[newly] = t
            if newly.any():
                lr = torch.where(newly.to(lr.device), torch.zeros_like(lr), lr)
                if captured is not None:
                    captured.set_lr(lr)
            if on_log is not None:
                on_log(t, weights, f, diverged_at >= 0)
            next_log += 1
        if t < steps:
            if captured is not None:
                captured.replay()
            else:
                weights = optimizer.step(params, state, weights, problem, lr, stepped)
            if keeper is not None and keeper.kept:
                every_step_loss[t].copy_(keeper.loss)  # type: ignore[index]
            if on_step is not None:
                on_step(t + 1, steps)
    return Trajectory(logged, torch.stack(losses), weights, diverged_at)


class _LossKeeper:
    """The network as the optimizer sees it, keeping f(W) from the forward pass of each
    gradient taken on the whole training set (``problem`` itself; a minibatch's is not f): the
    gradient is then computed from that same pass (``state``), as it would have computed it.
    Everything else is the network's own."""

    def __init__(self, network: Network, problem: Problem, K: int):
        self.network, self.problem = network, problem
        self.loss = torch.full((K,), float("nan"), dtype=problem.X.dtype, device=problem.X.device)
        self.kept = False

    def gradient(self, weights: Weights, problem: Problem, trained: Collection[str],
                 state: Forward | None = None) -> dict[str, Tensor]:
        if problem is not self.problem:
            return self.network.gradient(weights, problem, trained, state)
        state = self.network.forward(weights, problem) if state is None else state
        self.loss.copy_(state.loss)  # a fixed buffer: inside a captured graph too
        self.kept = True
        return self.network.gradient(weights, problem, trained, state)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.network, name)
