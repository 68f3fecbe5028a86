"""`looped`: a weight-tied deep ReLU network, written with its forward pass alone (autograd does the rest).

The input of a sequence is read once, at the first layer, and one matrix W is applied at every
layer after it: h_1 = relu(A x_1), h_l = relu(W h_{l-1}) for l = 2..L, output y = B h_L, loss
f = ½ Σ_i ||B h_{i,L} - y*_{i,L}||². It has the Elman network's weights (W, A, B, so every
initializer of the Elman network draws them), and a recurrent matrix shared by its layers, but
its layers are no time steps of a sequence: the diagnostics that need ``sequence`` (fresh
randomness, separability, chain norms) are refused on it.
"""
from __future__ import annotations

from typing import ClassVar

import torch

from overparam import Forward, Model, Params, Problem, Weights
from overparam.engine import ELMAN_DIMS


class Looped(Model):
    """A weight-tied deep ReLU network: h_1 = relu(A x_1), h_l = relu(W h_{l-1}), y = B h_L; by autograd."""

    name: ClassVar[str] = "looped"
    Params: ClassVar[type[Params]] = Params
    dims = ELMAN_DIMS
    provides = frozenset({"layers", "recurrent"})
    trained_by_default = ("W",)

    def forward(self, weights: Weights, problem: Problem) -> Forward:
        """Layer-major ``g, h [L, K, n, m]`` and the residual of the last layer alone, ``[K, 1, n, d]``."""
        g = problem.X[:, :, 0] @ weights.A.mT
        gs, hs = [g], [torch.relu(g)]
        for _ in range(1, problem.L):
            g = hs[-1] @ weights.W.mT
            gs.append(g)
            hs.append(torch.relu(g))
        residual = hs[-1] @ weights.B.mT - problem.Y[:, :, -1]
        return Forward(torch.stack(gs), torch.stack(hs), residual.unsqueeze(1))
