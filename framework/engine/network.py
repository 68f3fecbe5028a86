"""What the engine asks of a network: its forward pass per layer, its loss, gradient and tangent
products, batched over the ensemble axis K.

A ``Network`` is the mathematical side of a model component (``overparam.Model``): the engine
(training, ``lr: auto``, the ``Probe`` that diagnostics read) sees only this interface, never
a particular architecture. ``forward`` is the one method a network must write. The others
default to torch autograd on it, in float64 as exact as the forward pass itself: the gradient
and Jᵀ u by reverse mode, J v by forward mode (``torch.func.jvp``), the per-sequence gradient
norms by ``torch.func.vmap`` over the sequences. A network that knows them in closed form
overrides them (the built-ins do: faster, and free of the graph's memory).

The loss is always ``f = ½ Σ ‖r‖²`` over the residuals ``r`` the forward pass reports (§2.2
for the Elman network: ``r_{i,l} = B h_{i,l} - y*_{i,l}`` for l >= 2), so ``∇f = Jᵀ r``, J the
Jacobian of the residuals in the trained weights.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import torch

from framework.engine.tensors import HIDDEN, WeightLayout, Problem, Weights, member_sum

if TYPE_CHECKING:
    from torch import Tensor


@dataclass(frozen=True)
class Forward:
    """One forward pass of K networks, layer-major; properties give ``[K, n, layers, ·]`` views.

    ``g_layers`` and ``h_layers`` ``[layers, K, n, m]`` are every hidden layer's pre-activations
    and ReLU outputs, in the order the model numbers its layers (for the Elman network of
    §2.1 the time steps: ``g_{i,l} = W h_{i,l-1} + A x_{i,l}``, ``h_{i,l} = relu(g_{i,l})``);
    ``residual_members`` ``[K, P, n, d]`` the residuals of the P outputs each sequence has (zero
    where the loss leaves an output out).
    """

    g_layers: Tensor
    h_layers: Tensor
    residual_members: Tensor

    @property
    def g(self) -> Tensor:
        """Pre-activations, ``[K, n, layers, m]``."""
        return self.g_layers.permute(1, 2, 0, 3)

    @property
    def h(self) -> Tensor:
        """Hidden states, ``[K, n, layers, m]``."""
        return self.h_layers.permute(1, 2, 0, 3)

    @property
    def pattern(self) -> Tensor:
        """The diagonals of the ReLU patterns ``D`` (Definition 2.2): ``1[g >= 0]``, bool ``[K, n, layers, m]``."""
        return self.g >= 0

    @property
    def residual(self) -> Tensor:
        """The residuals, ``[K, n, P, d]``."""
        return self.residual_members.transpose(1, 2)

    @property
    def sequence_loss(self) -> Tensor:
        """``f_i = ½ Σ ||r_i||²`` for each sequence, ``[K, n]``."""
        return 0.5 * self.residual_members.square().sum(dim=(1, 3))

    @property
    def loss(self) -> Tensor:
        """``f = Σ_i f_i``, the sum over sequences (§2.2), ``[K]``."""
        return 0.5 * member_sum(self.residual_members.square())

    def with_residuals(self, residual_members: Tensor) -> Forward:
        """The same pass with other residuals: what a pull-back ``Jᵀ u`` back-propagates."""
        return Forward(self.g_layers, self.h_layers, residual_members)


class Network:
    """The mathematics of one model with its parameters fixed (``params``), for any K.

    ``provides`` names what the network's structure offers the diagnostics beyond the loss and
    its gradient (``overparam.Model``, docs/models.md): ``layers`` (hidden states per layer),
    ``recurrent`` (one recurrent matrix ``W [m, m]`` shared by every layer), ``sequence`` (the
    layers are the time steps of one sequence, as in §4's U_l).
    """

    provides: ClassVar[frozenset[str]] = frozenset({"layers"})
    trained_by_default: ClassVar[tuple[str, ...]] = ("W",)
    dims: ClassVar[Mapping[str, tuple[str, ...]]]

    def __init__(self, params: object = None) -> None:
        self.params = params

    def sizes(self) -> dict[str, int]:
        """The sizes of this network's own axis labels (other than ``m``, ``d_x`` and ``d``),
        from its parameters; none by default."""
        return {}

    def layer_count(self, L: int) -> int:
        """How many hidden layers ``forward`` reports on sequences of length ``L``: one per time
        step by default (the Elman network's h_1..h_L); a network whose layers are its own says so."""
        return L

    def weight_layout(self, m: int, d_x: int, d: int) -> WeightLayout:
        """The shapes of one network's weights at width ``m`` on data of sizes ``d_x``, ``d``."""
        return WeightLayout(self.dims, {HIDDEN: m, "d_x": d_x, "d": d, **self.sizes()})

    def forward(self, weights: Weights, problem: Problem) -> Forward:
        """The forward pass of the K networks on their sequences."""
        raise NotImplementedError(f"{type(self).__name__} must define forward(weights, problem)")

    def loss_outputs(self, outputs: int) -> range:
        """Which of the ``outputs`` outputs of each sequence (the P of ``Forward.residual_members``)
        the loss scores; the others' residuals are always zero, so they are no rows of the
        Jacobian J (``overparam.engine.TangentKernel``). All of them unless a network says otherwise."""
        return range(outputs)

    def around(self, initial: Weights, problem: Problem) -> Network:
        """This network for a training from ``initial`` on ``problem`` (a member cut back from a padded
        ensemble, say): itself, unless it is defined relative to an initialization (the linearized
        model of ``linearized``), which then takes this one."""
        return self

    def forward_unless_given(self, weights: Weights, problem: Problem, state: Forward | None) -> Forward:
        """``state``, the forward pass a caller already has at these weights, or a new one."""
        return self.forward(weights, problem) if state is None else state

    def loss(self, weights: Weights, problem: Problem) -> Tensor:
        """``f``, ``[K]``."""
        return self.forward(weights, problem).loss

    def gradient(self, weights: Weights, problem: Problem, trained: Collection[str],
                 state: Forward | None = None) -> dict[str, Tensor]:
        """``∇f`` for each weight named in ``trained`` (``Jᵀ r``, r the residuals of ``state`` where
        given: a network that shifts the residuals, ``OutputScaled``, passes its own; by autograd
        unless overridden)."""
        return self._autograd_pullback(weights, problem, None if state is None else state.residual_members, trained)

    def pullback(self, weights: Weights, problem: Problem, residual: Tensor, trained: Collection[str],
                 state: Forward | None = None) -> dict[str, Tensor]:
        """``Jᵀ u`` for residuals ``u [K, P, n, d]`` (laid out as ``Forward.residual_members``)."""
        return self._autograd_pullback(weights, problem, residual, trained)

    def tangent(self, weights: Weights, problem: Problem, direction: Mapping[str, Tensor],
                state: Forward | None = None) -> Tensor:
        """``J v``: the change of the residuals along ``direction`` (tensors for some weights),
        ``[K, P, n, d]``; by forward-mode autograd unless overridden."""
        names = list(direction)

        def residuals(*tensors: Tensor) -> Tensor:
            return self.forward(weights.replace(**dict(zip(names, tensors))), problem).residual_members

        primals = tuple(weights[name] for name in names)
        _, jvp = torch.func.jvp(residuals, primals, tuple(direction[name] for name in names))
        return jvp

    def sequence_gradient_norms(self, weights: Weights, problem: Problem, trained: Collection[str],
                                state: Forward | None = None) -> Tensor:
        """``||∇f_i||²`` summed over the ``trained`` weights, for each real sequence i, ``[K, n]``
        (Theorem 3's upper bound), f_i of the residuals of ``state`` where given (as ``gradient``);
        by ``vmap`` of autograd over the sequences unless overridden."""
        names = list(trained)
        n = problem.n
        shift = () if state is None else (
            (self.forward(weights, problem).residual_members - state.residual_members)[:, :, :n],)

        def sequence_loss(tensors: dict[str, Tensor], x: Tensor, y: Tensor, *moved: Tensor) -> Tensor:
            one = Problem(x.unsqueeze(1), y.unsqueeze(1), problem.delta)
            residual = self.forward(weights.replace(**tensors), one).residual_members
            if moved:
                residual = residual - moved[0].unsqueeze(2)
            return 0.5 * residual.square().sum()

        per_sequence = torch.func.vmap(torch.func.grad(sequence_loss), in_dims=(None, 1, 1, *(2,) * len(shift)))(
            {name: weights[name] for name in names}, problem.X[:, :n], problem.Y[:, :n], *shift)
        return sum(g.square().flatten(2).sum(dim=2) for g in per_sequence.values()).T

    def gradient_and_sequence_norms(self, weights: Weights, problem: Problem, trained: Collection[str],
                                    state: Forward | None = None) -> tuple[dict[str, Tensor], Tensor]:
        """``gradient`` and ``sequence_gradient_norms`` together: what a measurement of the PL
        ratio reads (a network whose closed form gives both from one backward pass overrides it)."""
        return (self.gradient(weights, problem, trained, state),
                self.sequence_gradient_norms(weights, problem, trained, state))

    def _autograd_pullback(self, weights: Weights, problem: Problem, residual: Tensor | None,
                           trained: Collection[str]) -> dict[str, Tensor]:
        names = [name for name in weights.names if name in trained]
        with torch.enable_grad():
            leaves = {name: weights[name].detach().requires_grad_(True) for name in names}
            r = self.forward(weights.replace(**leaves), problem).residual_members
            if not r.requires_grad:  # no residual depends on the weights (a loss with no outputs)
                return {name: torch.zeros_like(weights[name]) for name in names}
            pulled = torch.autograd.grad(r, [leaves[name] for name in names],
                                         grad_outputs=r.detach() if residual is None else residual, allow_unused=True)
        return {name: torch.zeros_like(weights[name]) if g is None else g for name, g in zip(names, pulled)}


class DerivedNetwork(Network):
    """A network made from another, ``model`` (its first-order model around W0, its output
    rescaled): the model's weights, layers, scored outputs and structure. A subclass writes the
    mathematics it changes."""

    def __init__(self, model: Network) -> None:
        super().__init__(model.params)
        self.model = model
        self.dims = model.dims
        self.provides = model.provides
        self.trained_by_default = model.trained_by_default

    def sizes(self) -> dict[str, int]:
        return self.model.sizes()

    def layer_count(self, L: int) -> int:
        return self.model.layer_count(L)

    def loss_outputs(self, outputs: int) -> range:
        return self.model.loss_outputs(outputs)
