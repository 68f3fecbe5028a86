"""The step size ``lr: auto``: a fraction of 2/λ_max of the tangent kernel at initialization.

GD on f = ½‖r(W)‖² is stable on the linearized model iff η < 2/λ_max, λ_max the top eigenvalue
of the tangent kernel J Jᵀ (equally of the Gauss–Newton matrix Jᵀ J), J the Jacobian of the
residuals loss_{i,l} (l >= 2) in the trained weights. docs/architecture.md ("Step sizes") records that the edge depends
on the data (it scales roughly as 1/(n·L³)), not only on m, so a fixed c/m does not carry
across data, n and L; ``lr: auto`` takes a fraction of 2/λ_max measured at initialization.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import math
from collections.abc import Collection, Sequence

import torch

from framework.engine.tensors import Problem, Weights, member_sum
from framework.engine.probe import normal_per_member
from framework.engine.network import Network
from framework.engine.seeds import seeded_generator

if TYPE_CHECKING:
    from torch import Tensor

POWER_ITERATIONS = 40


def kernel_top_eigenvalue(weights: Weights, problem: Problem, trained: Collection[str],
                          generators: Sequence[torch.Generator], network: Network,
                          iterations: int = POWER_ITERATIONS) -> Tensor:
    """λ_max(Jᵀ J) for each member, ``[K]``, by power iteration on Jᵀ J v.

    J v is ``network.tangent`` and Jᵀ u ``network.pullback`` (for the Elman network, the tangent
    of §2.1 with fixed patterns and the closed form of Fact 2.5 with the residuals replaced by
    u). Each member starts from its own random direction (``generators``) and takes the same
    number of steps, so a member's estimate does not depend on its ensemble. The
    Rayleigh quotient of the last iterate is a lower bound of λ_max that the iteration raises.
    """
    fwd = network.forward(weights, problem)
    names = [name for name in weights.names if name in trained]
    shapes = [weights[name].shape[1:] for name in names]
    sizes = [math.prod(shape) for shape in shapes]
    K = weights.K

    def split(v: Tensor) -> dict[str, Tensor]:
        return {name: part.view(K, *shape) for name, part, shape in zip(names, v.split(sizes, dim=1), shapes)}

    def normal_map(v: Tensor) -> Tensor:
        u = network.tangent(weights, problem, split(v), fwd)
        pulled = network.pullback(weights, problem, u, names, fwd)
        return torch.cat([pulled[name].reshape(K, -1) for name in names], dim=1)

    v = normal_per_member(generators, (sum(sizes),), weights.first)
    v = v / member_sum(v.square()).sqrt().unsqueeze(1)
    estimate = v.new_zeros(K)
    for _ in range(iterations):
        w = normal_map(v)
        estimate = member_sum(v * w)
        size = member_sum(w.square()).sqrt().unsqueeze(1)
        v = torch.where(size > 0, w / size.clamp_min(torch.finfo(w.dtype).tiny), v)
    return estimate


def auto_learning_rate(weights: Weights, problem: Problem, trained: Collection[str], fraction: float,
                       seeds: Sequence[int], network: Network) -> Tensor:
    """``fraction · 2/λ_max`` for each member, λ_max measured at these (initial) weights."""
    generators = [seeded_generator(seed) for seed in seeds]
    return fraction * 2 / kernel_top_eigenvalue(weights, problem, trained, generators, network)
