"""The linearized twin: full-batch GD on the first-order model of the network around its initialization.

The model is r_lin(W) = r(W0) + J(W0)(W − W0), J the Jacobian of the residuals in the trained
weights at W0: its features (hidden states, ReLU patterns) are those of W0 for good, which is the
regime semi-smoothness (Theorem 4) and the forward stability of (5.1) keep a wide network near.
GD on f_lin = ½‖r_lin‖² steps along J(W0)ᵀ r_lin, one tangent product and one pull-back at W0
(``Network.tangent``, ``Network.pullback``) per step, about the cost of a training step. A pipeline
runs it as a second optimizer stage beside ``gd``, from the same data and W0; the diagnostic
``linearization_gap`` of the ``gd`` stage compares the network with this twin in closed form.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, ClassVar

from overparam import Forward, Network, Optimizer, OptimizerParams, Problem, Weights, hookimpl
from overparam.engine import DerivedNetwork
from plugins.optimizers import descend

if TYPE_CHECKING:
    from torch import Tensor


class LinearizedNetwork(DerivedNetwork):
    """The first-order model of ``model`` around ``anchor`` on ``problem``, in the weights ``trained``.

    Its forward pass reports W0's hidden states and the residuals r(W0) + J(W0)(W − W0); its
    gradient, pull-back and tangent are those of ``model`` at W0 (the linear model's Jacobian is
    J(W0) everywhere). It is anchored to one ensemble and one problem: ``around`` gives the
    model anchored at another (a member cut back from a padded ensemble).
    """

    def __init__(self, model: Network, anchor: Weights, problem: Problem, trained: Collection[str]) -> None:
        super().__init__(model)
        self.anchor, self.problem = anchor, problem
        self.trained = tuple(name for name in anchor.names if name in trained)
        self.start = model.forward(anchor, problem)

    def around(self, initial: Weights, problem: Problem) -> Network:
        return LinearizedNetwork(self.model.around(initial, problem), initial, problem, self.trained)

    def _check(self, problem: Problem) -> None:
        if problem.X.shape != self.problem.X.shape:
            raise ValueError(f"the linearized model is anchored to a problem X {tuple(self.problem.X.shape)}, "
                             f"not {tuple(problem.X.shape)}: it trains full-batch only")

    def forward(self, weights: Weights, problem: Problem) -> Forward:
        self._check(problem)
        moved = {name: weights[name] - self.anchor[name] for name in self.trained}
        change = self.model.tangent(self.anchor, self.problem, moved, self.start)
        return self.start.with_residuals(self.start.residual_members + change)

    def gradient(self, weights: Weights, problem: Problem, trained: Collection[str],
                 state: Forward | None = None) -> dict[str, Tensor]:
        residual = self.forward_unless_given(weights, problem, state).residual_members
        return self.pullback(weights, problem, residual, trained)

    def gradient_and_sequence_norms(self, weights: Weights, problem: Problem, trained: Collection[str],
                                    state: Forward | None = None) -> tuple[dict[str, Tensor], Tensor]:
        """J(W0)ᵀ r_lin and each sequence's ||J_i(W0)ᵀ r_lin,i||²: the model's, at W0 with these residuals."""
        fwd = self.forward_unless_given(weights, problem, state)
        return self.model.gradient_and_sequence_norms(self.anchor, self.problem, trained, fwd)

    def sequence_gradient_norms(self, weights: Weights, problem: Problem, trained: Collection[str],
                                state: Forward | None = None) -> Tensor:
        return self.gradient_and_sequence_norms(weights, problem, trained, state)[1]

    def pullback(self, weights: Weights, problem: Problem, residual: Tensor, trained: Collection[str],
                 state: Forward | None = None) -> dict[str, Tensor]:
        self._check(problem)
        return self.model.pullback(self.anchor, self.problem, residual, trained, self.start)

    def tangent(self, weights: Weights, problem: Problem, direction: Mapping[str, Tensor],
                state: Forward | None = None) -> Tensor:
        self._check(problem)
        return self.model.tangent(self.anchor, self.problem, direction, self.start)


class LinearizedGradientDescent(Optimizer):
    """Full-batch GD on the network's first-order model around W0: the linearized ("lazy") twin."""

    name: ClassVar[str] = "linearized"
    capturable: ClassVar[bool] = True

    def network_for(self, params: OptimizerParams, network: Network, initial: Weights, problem: Problem) -> Network:
        return LinearizedNetwork(network, initial, problem, params.trained)

    def step(self, params: OptimizerParams, state: None, weights: Weights, problem: Problem, lr: Tensor,
             network: Network) -> Weights:
        return descend(weights, network.gradient(weights, problem, params.trained), lr)


@hookimpl
def overparam_register_optimizers() -> list[type[Optimizer]]:
    """`linearized`."""
    return [LinearizedGradientDescent]
