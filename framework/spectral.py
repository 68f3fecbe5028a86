"""Batched spectral norms of matrices given only as products, for the norms of §4-5.

The chains ``W D_{l1} W ⋯ D_{l2} W`` of (4.4) are m×m products of up to L+1 factors, one per
(sequence, start, length); forming each and taking its SVD costs O(m³) apiece, which at
m = 1024 is hours. Their spectral norm needs only the products with vectors, so it is found
by the Lanczos method on ``MᵀM`` with full re-orthogonalization and Rayleigh–Ritz: after j
steps the estimate is ``sqrt(λ_max(Qᵀ MᵀM Q))`` for an orthonormal Q [m, j], a lower bound of
``||M||_2`` that is exact once j = m and in practice converges in a few tens of steps.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from framework.probe import normal_per_member

BREAKDOWN = 1e-10  # a new Krylov vector this small, relative to MᵀM q, has left no new direction


def _orthogonalize(z: Tensor, basis: Tensor) -> tuple[Tensor, Tensor]:
    """``z - Q Qᵀ z`` done twice ("twice is enough"), and the first pass's coefficients ``Qᵀ z``.

    ``z [..., m]``, ``basis [..., m, j]`` with orthonormal columns.
    """
    # products with one vector as sums of elementwise products: a matrix-vector kernel rounds
    # differently by the alignment of each member's block, and so by its place in the ensemble
    coefficients = (basis * z.unsqueeze(-1)).sum(dim=-2)
    z = z - (basis * coefficients.unsqueeze(-2)).sum(dim=-1)
    z = z - (basis * (basis * z.unsqueeze(-1)).sum(dim=-2).unsqueeze(-2)).sum(dim=-1)
    return z, coefficients


def top_singular_value(
    normal_map: Callable[[Tensor], Tensor],
    start: Tensor,
    iterations: int,
    tol: float,
    generators: Sequence[torch.Generator],
) -> Tensor:
    """``||M||_2`` for a batch of operators M given by ``normal_map(v) = MᵀM v``.

    ``start [..., m]`` are the starting vectors (one per operator, random: any fixed vector
    could be orthogonal to the top singular vector); ``normal_map`` maps ``[..., m]`` to
    ``[..., m]``. Runs at most ``min(iterations, m)`` Lanczos steps; an estimate that changed by
    at most ``tol`` relative in a step is final from then on, and the loop ends when all are.
    When the Krylov space is exhausted (M of low rank, or M = 0), the next direction is a
    random one orthogonal to Q, so the estimate remains a Rayleigh–Ritz value and M = 0 gives
    exactly 0. The leading batch axis is the ensemble: ``generators[k]`` draws member k's
    directions, and each estimate stops on its own, so a member's result never depends on the
    other members of its ensemble.
    """
    batch, m = start.shape[:-1], start.shape[-1]
    steps = max(1, min(iterations, m))
    basis = start.new_zeros(*batch, m, steps)
    projected = start.new_zeros(*batch, steps, steps)  # Qᵀ MᵀM Q, filled one column at a time
    q = start / start.norm(dim=-1, keepdim=True)
    estimate = start.new_zeros(batch)
    final = torch.zeros(batch, dtype=torch.bool, device=start.device)
    for j in range(steps):
        basis[..., j] = q
        z = normal_map(q)
        current = basis[..., : j + 1]
        residual, column = _orthogonalize(z, current)
        projected[..., : j + 1, j] = column
        projected[..., j, : j + 1] = column
        top = torch.linalg.eigvalsh(projected[..., : j + 1, : j + 1])[..., -1].clamp_min(0).sqrt()
        converged = (top - estimate).abs() <= tol * top if j > 0 else torch.zeros_like(final)
        estimate = torch.where(final, estimate, top)
        final |= converged
        if j + 1 == steps or bool(final.all()):
            break
        size = residual.norm(dim=-1, keepdim=True)
        broke_down = size <= BREAKDOWN * z.norm(dim=-1, keepdim=True)
        drawing = broke_down.squeeze(-1) & ~final  # a finished estimate never draws again
        members = drawing.reshape(batch[0], -1).any(dim=1).nonzero().flatten().tolist() if batch else []
        if members:  # only members still iterating whose space is exhausted draw, each from its own stream
            fresh = normal_per_member(generators, start.shape[1:], start, members)
            fresh, _ = _orthogonalize(fresh, current[members])
            index = torch.tensor(members, device=start.device)
            residual = residual.index_copy(0, index, torch.where(broke_down[members], fresh, residual[members]))
            size = residual.norm(dim=-1, keepdim=True)
        q = residual / size
    return estimate
