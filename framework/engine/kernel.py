"""The tangent kernel ``K = J Jᵀ`` of the residuals: as an operator, and as a matrix when small.

J is the Jacobian of the residuals the loss scores (for the Elman network r_{i,l} = B h_{i,l} -
y*_{i,l}, l >= 2, of §2.2) in the trained weights, one row per (output, sequence, coordinate):
N = P·n·d rows, P the outputs the loss scores (``Network.loss_outputs``; L - 1 for §2.2's). Since
∇f = Jᵀ r, ``||∇f||² = rᵀ K r >= λ_min(K) ||r||² = 2 λ_min(K) f``: the gradient lower bound of
Theorem 3 (||∇f||² >= Ω(δ/poly(ρ))·m·f) is a lower bound on λ_min(K)/m, and ``pl_ratio`` =
||∇f||²/(m f) >= 2 λ_min(K)/m at every W.

``K v = J (Jᵀ v)`` costs one pull-back and one tangent product (``Network.pullback``,
``Network.tangent``, about one backward pass each), the forward pass shared: the Lanczos method
needs nothing more (``framework.engine.spectral.extreme_eigenvalues``). The matrix is K applied
to the N unit vectors, several at a time, each vector a replica of its member in one larger
ensemble (the ensemble rule makes a replica compute what the member would alone): N products,
no Jacobian of N × (m² + ...) entries formed.
"""
from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

import torch

from framework.engine.network import Forward, Network
from framework.engine.tensors import Problem, Weights

if TYPE_CHECKING:
    from torch import Tensor

REPLICA_BYTES = 2**28  # the memory the replicas of one block of unit vectors may take, all members together


class TangentKernel:
    """``K = J Jᵀ`` of K networks at ``weights``, J in the weights named in ``trained``.

    ``state`` is the forward pass at ``weights`` when the caller has it. Vectors of the
    kernel's space are ``[K, N]``: the scored outputs, then the real sequences, then the d
    coordinates, flattened in that order (``Forward.residual_members`` ``[K, P, n, d]`` with
    the outputs the loss leaves out and the zero-padded sequences dropped).
    """

    def __init__(self, network: Network, weights: Weights, problem: Problem, trained: Collection[str],
                 state: Forward | None = None) -> None:
        self.network, self.weights, self.problem = network, weights, problem
        self.names = [name for name in weights.names if name in trained]
        self.state = network.forward_unless_given(weights, problem, state)
        self.outputs = list(network.loss_outputs(self.state.residual_members.shape[1]))

    @property
    def size(self) -> int:
        """N, the number of scored residual coordinates: the order of K."""
        return len(self.outputs) * self.problem.n * self.problem.d

    def _embed(self, v: Tensor, members: int) -> Tensor:
        """``[members, N]`` placed into the residual layout ``[members, P, rows, d]`` (zeros elsewhere)."""
        full = self.state.residual_members
        u = full.new_zeros(members, *full.shape[1:])
        u[:, self.outputs, : self.problem.n] = v.view(members, len(self.outputs), self.problem.n, self.problem.d)
        return u

    def scored(self, r: Tensor) -> Tensor:
        """The scored coordinates of residuals ``[members, P, rows, d]``, ``[members, N]``."""
        return r[:, self.outputs, : self.problem.n].reshape(r.shape[0], -1)

    def _product(self, weights: Weights, problem: Problem, state: Forward, v: Tensor) -> Tensor:
        pulled = self.network.pullback(weights, problem, self._embed(v, v.shape[0]), self.names, state)
        return self.scored(self.network.tangent(weights, problem, pulled, state))

    def apply(self, v: Tensor) -> Tensor:
        """``K v`` for one vector per member, ``v [K, N]``."""
        return self._product(self.weights, self.problem, self.state, v)

    def _replicas_per_block(self) -> int:
        """How many unit vectors of each member one block applies K to, within ``REPLICA_BYTES``."""
        per_replica = sum(self.weights[name].element_size() * self.weights[name][0].numel()
                          for name in self.weights.names)
        per_replica += 2 * self.state.g_layers[:, 0].numel() * self.state.g_layers.element_size()
        return max(1, min(self.size, REPLICA_BYTES // (self.weights.K * per_replica)))

    def matrix(self) -> Tensor:
        """K itself, ``[K, N, N]``: K applied to every unit vector, then symmetrized (the two
        products' round-off leaves it symmetric only to a few ulps)."""
        K, N = self.weights.K, self.size
        block = self._replicas_per_block()
        columns = []
        for start in range(0, N, block):
            b = min(block, N - start)
            weights = self.weights.map(lambda t: t.repeat_interleave(b, dim=0))
            problem = Problem(*(t.repeat_interleave(b, dim=0) for t in (self.problem.X, self.problem.Y,
                                                                         self.problem.delta)), self.problem.padding)
            state = Forward(self.state.g_layers.repeat_interleave(b, dim=1),
                            self.state.h_layers.repeat_interleave(b, dim=1),
                            self.state.residual_members.repeat_interleave(b, dim=0))
            units = self.state.residual_members.new_zeros(K, b, N)
            units[:, torch.arange(b), start + torch.arange(b)] = 1
            columns.append(self._product(weights, problem, state, units.view(K * b, N)).view(K, b, N))
        kernel = torch.cat(columns, dim=1).mT  # column c of member k: K e_c
        return (kernel + kernel.mT) / 2
