"""`two_layer` and `signs`: the two-layer ReLU network of Du, Zhai, Poczos and Singh ("Gradient
Descent Provably Optimizes Over-parameterized Neural Networks", ICLR 2019), written with its
forward pass alone: autograd gives its gradient, J v and Jᵀ u.

f(x) = (1/√m) Σ_r a_r relu(w_rᵀ x) with w_r ~ N(0, I) trained and a_r ~ Unif{−1, +1} fixed,
loss ½ Σ_i ||f(x_i) − y_i||², here with d outputs (a is d x m) on the first input of each
sequence and its last target. The 1/√m is folded into a (a_r = ±1/√m), so that the network
is a function of its weights alone: zero padding (extra neurons with w_r = 0, a_r = 0), which
runs networks of several widths in one ensemble, then changes nothing.
"""
from __future__ import annotations

import math
from typing import ClassVar

import torch

from overparam import Forward, Initializer, InitializerParams, Model, Params, Problem, WeightLayout, Weights
from overparam.engine import HIDDEN, seeded_generator

TWO_LAYER_DIMS: dict[str, tuple[str, ...]] = {"W": (HIDDEN, "d_x"), "a": ("d", HIDDEN)}
"""The first layer ``W [m, d_x]`` (rows w_r) and the fixed output weights ``a [d, m]``."""


class TwoLayer(Model):
    """Du et al.'s two-layer ReLU network: f(x) = a relu(W x), W trained, a = ±1/√m fixed; by autograd."""

    name: ClassVar[str] = "two_layer"
    Params: ClassVar[type[Params]] = Params
    dims = TWO_LAYER_DIMS
    provides = frozenset({"layers"})
    trained_by_default = ("W",)

    def layer_count(self, L: int) -> int:
        """One hidden layer, whatever the data's length."""
        return 1

    def forward(self, weights: Weights, problem: Problem) -> Forward:
        """``g = W x``, ``h = relu(g)`` (one layer), residual ``a h - y*``, ``[K, 1, n, d]``."""
        g = problem.X[:, :, 0] @ weights.W.mT
        h = torch.relu(g)
        residual = h @ weights.a.mT - problem.Y[:, :, -1]
        return Forward(g.unsqueeze(0), h.unsqueeze(0), residual.unsqueeze(1))


class Signs(Initializer[InitializerParams]):
    """Du et al.'s initialization: w_r ~ N(0, I), a_r uniform on {−1/√m, +1/√m} (the 1/√m of f folded in)."""

    name: ClassVar[str] = "signs"
    Params: ClassVar[type[Params]] = InitializerParams
    dims = TWO_LAYER_DIMS

    def initialize(self, params: InitializerParams, layout: WeightLayout, seed: int) -> Weights:
        """W, then a, from one CPU stream seeded by ``seed``."""
        rng = seeded_generator(seed)
        W = torch.randn(layout.shape("W"), generator=rng, dtype=torch.float64)
        coins = torch.randint(0, 2, layout.shape("a"), generator=rng).to(torch.float64)
        return layout.weights({"W": W, "a": (2 * coins - 1) / math.sqrt(params.m)})
