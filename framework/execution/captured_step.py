"""One training step captured as a CUDA graph and replayed: the whole update (forward pass,
gradient, descent) as one launch, so that a single small network on a GPU is not bound by the
launch of its ~4L kernels.

A graph replays the kernels it recorded on the memory it recorded them on. So the weights and
the learning rates live in fixed buffers (``CapturedStep.weights``, ``.lr``); the captured body
is ``new = optimizer.step(buffers)`` followed by copying ``new`` into the buffers, and each
``replay()`` advances them by one step. Only a rule that says so (``Optimizer.capturable``)
is captured: its step must be a pure function of the weights and learning rates, with no host
synchronization and no state kept in Python between steps (full-batch GD is; SGD, whose
sampler advances a host-side position, is not). The training loop leaves the graph at each
logged step: f and the diagnostics are computed eagerly on a copy of the buffers
(``snapshot``), and a member that diverged there has its rate set to 0 in the buffer.

CPU runs never capture (``capture_possible``); nothing here runs without a CUDA device.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from framework.engine.network import Network
from framework.engine.tensors import Problem, Weights

if TYPE_CHECKING:
    from torch import Tensor

    from framework.contract.components import Optimizer, Params

WARMUP_STEPS = 2  # run (and discarded) on a side stream before capture, as CUDA graphs require


def capture_possible(optimizer: Optimizer, weights: Weights) -> bool:
    """Whether a training of these weights by this rule runs as a replayed graph: a CUDA
    device, and a rule whose step is capturable."""
    return weights.device.type == "cuda" and optimizer.capturable


class CapturedStep:
    """``optimizer.step`` on fixed buffers, recorded once and replayed per step."""

    def __init__(self, optimizer: Optimizer, params: Params, state: Any, weights: Weights, problem: Problem,
                 lr: Tensor, network: Network):
        self.weights = weights.map(torch.clone)
        self.lr = lr.clone()

        def step() -> Weights:
            return optimizer.step(params, state, self.weights, problem, self.lr, network)

        device = self.lr.device
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):
            for _ in range(WARMUP_STEPS):  # a pure step: its results are dropped, the buffers unchanged
                step()
        torch.cuda.current_stream(device).wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            new = step()
            for name in new.names:
                if new[name] is not self.weights[name]:
                    self.weights[name].copy_(new[name])

    def replay(self) -> None:
        """One step: the buffers advance in place."""
        self.graph.replay()

    def set_lr(self, lr: Tensor) -> None:
        """New per-member learning rates for the following replays."""
        self.lr.copy_(lr)

    def snapshot(self) -> Weights:
        """A copy of the weights now, which later replays leave alone."""
        return self.weights.map(torch.clone)
