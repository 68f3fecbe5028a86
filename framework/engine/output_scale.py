"""A network's output centered at its initialization and scaled by α, its loss by 1/α²: lazy or rich training.

Chizat, Oyallon and Bach ("On lazy training in differentiable programming", NeurIPS 2019) train
the model α (h(W) − h(W0)) on the loss (1/α²) ℓ: as α grows, GD on it stays ever closer to its
linearization around W0, with ‖W_T − W0‖ and the tangent kernel's relative change falling as
1/α; as α falls, training moves far and its features change (the "rich" regime). With the
squared loss ℓ = ½‖α (h − h0) − y‖², the scaled loss is ½‖s‖² with the residuals

    s(W) = h(W) − h(W0) − y/α = r(W) − r(W0) − y/α,

r = h − y the model's own residuals. So the network here reports s: the model's residuals less
the constant c = r(W0) + y/α, which the forward pass at W0 gives once (y is the residual of the
output 0: r(W0) less r(W0) on zero targets). Uncentered (``centered`` false), the model α h(W)
has s = h(W) − y/α, c = (1/α − 1) y: at α = 1, c = 0 and the network is the model's own. Its
Jacobian is the model's: every product (J v, Jᵀ u, the gradient Jᵀ s, the per-sequence norms)
is the model's own, read at the forward pass whose residuals are s. The loss f = ½‖s‖² is the scaled one, so f(W0) = ‖y‖²/(2α²) and
f_t/f_0 compares across α. α = 1 is not the paper's network: that one is uncentered (no
``output_scale``).

c belongs to one training set and one ensemble: the network is anchored (``around``) to the
initial weights and problem of each training, and trains full-batch (GD), not on minibatches.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

import torch

from framework.engine.network import DerivedNetwork, Forward, Network
from framework.engine.tensors import Problem, Weights

if TYPE_CHECKING:
    from torch import Tensor


class OutputScaled(DerivedNetwork):
    """``model`` with its output scaled by ``scale`` and centered at ``anchor`` (unless not
    ``centered``), its loss scaled by 1/scale².

    Unanchored (``anchor`` None) it only describes the model (sizes, weights, what it provides);
    ``around(initial, problem)`` gives the network a training steps.
    """

    def __init__(self, model: Network, scale: float, centered: bool = True, anchor: Weights | None = None,
                 problem: Problem | None = None) -> None:
        super().__init__(model)
        self.scale, self.centered = scale, centered
        self._inputs: Tensor | None = None
        self._offset: Tensor | None = None
        if anchor is not None and problem is not None:
            self._inputs = problem.X
            start = model.forward(anchor, problem).residual_members
            zero_targets = Problem(problem.X, torch.zeros_like(problem.Y), problem.delta, problem.padding)
            targets = model.forward(anchor, zero_targets).residual_members - start  # −(−y): y where scored
            self._offset = start + targets / scale if centered else targets * (1 / scale - 1)

    def around(self, initial: Weights, problem: Problem) -> Network:
        """Anchored at ``initial`` on ``problem``: c = r(W0) + y/α from one forward pass there."""
        return OutputScaled(self.model, self.scale, self.centered, initial, problem)

    def _centered(self, state: Forward, problem: Problem) -> Forward:
        if self._offset is None:
            raise RuntimeError("output_scale centers the output at the initial weights: the network must be "
                               "anchored to a training's W0 and problem (around) before it runs")
        if problem.X is not self._inputs:
            raise ValueError("output_scale centers the output on the sequences of the training set it was anchored "
                             "to, and was asked for others: it trains full-batch only (gd, linearized), not on "
                             "minibatches (sgd, minibatch)")
        return state.with_residuals(state.residual_members - self._offset)

    def forward(self, weights: Weights, problem: Problem) -> Forward:
        return self._centered(self.model.forward(weights, problem), problem)

    def gradient(self, weights: Weights, problem: Problem, trained: Collection[str],
                 state: Forward | None = None) -> dict[str, Tensor]:
        """Jᵀ s: the model's pull-back of the centered residuals."""
        fwd = self.forward_unless_given(weights, problem, state)
        return self.model.pullback(weights, problem, fwd.residual_members, trained, fwd)

    def pullback(self, weights: Weights, problem: Problem, residual: Tensor, trained: Collection[str],
                 state: Forward | None = None) -> dict[str, Tensor]:
        return self.model.pullback(weights, problem, residual, trained, self.forward_unless_given(weights, problem, state))

    def tangent(self, weights: Weights, problem: Problem, direction: Mapping[str, Tensor],
                state: Forward | None = None) -> Tensor:
        return self.model.tangent(weights, problem, direction, self.forward_unless_given(weights, problem, state))

    def sequence_gradient_norms(self, weights: Weights, problem: Problem, trained: Collection[str],
                                state: Forward | None = None) -> Tensor:
        return self.gradient_and_sequence_norms(weights, problem, trained, state)[1]

    def gradient_and_sequence_norms(self, weights: Weights, problem: Problem, trained: Collection[str],
                                    state: Forward | None = None) -> tuple[dict[str, Tensor], Tensor]:
        """The model's, at the forward pass whose residuals are s (its closed forms and the
        autograd defaults both differentiate the residuals of the state they are given)."""
        fwd = self.forward_unless_given(weights, problem, state)
        return self.model.gradient_and_sequence_norms(weights, problem, trained, fwd)
