"""Batched spectral norms of matrices given only as products, for the norms of §4-5.

The chains ``W D_{l1} W ⋯ D_{l2} W`` of (4.4) are m×m products of up to L+1 factors, one per
(sequence, start, length); forming each and taking its SVD costs O(m³) apiece, which at
m = 1024 is hours. Their spectral norm needs only the products with vectors, so it is found
by the Lanczos method on ``MᵀM`` with full re-orthogonalization and Rayleigh–Ritz: after j
steps the estimate is ``sqrt(θ)``, θ = λ_max(Qᵀ MᵀM Q) for an orthonormal Q [m, j], a lower
bound of ``||M||_2`` that is exact once j = m and in practice converges in a few tens of steps.

How far the estimate still is from ``||M||_2`` is estimated a posteriori from the Ritz residual
``ρ = ||MᵀM y - θ y||`` of the top Ritz vector y, which the Lanczos relation gives for free
(``ρ = β_j |s_j|``: the norm of the last residual times the last entry of the top eigenvector
of the projected matrix). For a symmetric matrix some eigenvalue λ lies within
``min(ρ, ρ²/γ)`` of θ, γ the distance from θ to the rest of the spectrum (the residual and gap
bounds, Parlett, *The Symmetric Eigenvalue Problem*), here estimated by the gap to the second
Ritz value; since ``σ - sqrt(θ) = (λ - θ)/(σ + sqrt(θ))``, the relative error of the singular
value is at most ``min(ρ, ρ²/γ) / (2θ)``. This is the ``error`` reported. It speaks of the
eigenvalue nearest θ, which is λ_max once Lanczos has found the top of the spectrum; from a
random start that happens long before the bound gets small, but while the bound is still large
(few steps) it is an estimate, not a guarantee, and can be too small.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal, NamedTuple, overload

import torch

from framework.engine.probe import normal_per_member

if TYPE_CHECKING:
    from torch import Tensor

BREAKDOWN = 1e-10  # a new Krylov vector this small, relative to MᵀM q, has left no new direction
FIRST_BLOCK = 32  # Krylov vectors allocated at first; the space grows by doubling as steps are taken
ROUND_OFF_ULPS = 64  # no estimate settles finer than this many units of its dtype's round-off


class SpectralEstimate(NamedTuple):
    """A Lanczos estimate of ``||M||_2`` and its a-posteriori relative error."""

    value: Tensor  # the Rayleigh–Ritz estimate sqrt(θ), a lower bound of ||M||_2
    error: Tensor  # min(ρ, ρ²/γ)/(2θ): the estimated bound on (||M||_2 - value)/value


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


def _eigenvalue_error(theta: Tensor, gap: Tensor, residual: Tensor) -> Tensor:
    """``min(ρ, ρ²/γ)/|θ|``: the relative distance from the Ritz value θ to the nearest eigenvalue,
    bounded by its residual ρ = ``residual`` and its gap γ = ``gap`` to the rest of the spectrum
    (no gap known: γ = 0, so ρ); 0 where θ = ρ = 0 (M = 0 is exact), +inf where θ = 0 < ρ."""
    tiny = torch.finfo(theta.dtype).tiny
    quadratic = torch.where(gap > 0, residual.square() / gap.clamp_min(tiny), torch.full_like(theta, float("inf")))
    bound = torch.minimum(residual, quadratic)
    size = theta.abs()
    return torch.where(size > 0, bound / size.clamp_min(tiny),
                       torch.where(residual > 0, torch.full_like(theta, float("inf")), torch.zeros_like(theta)))


def _grow(basis: Tensor, projected: Tensor, capacity: int) -> tuple[Tensor, Tensor]:
    """The Krylov basis ``[..., m, j]`` and projected matrix ``[..., j, j]`` with room for
    ``capacity`` steps, the steps taken so far kept."""
    taken = basis.shape[-1]
    wider = basis.new_zeros(*basis.shape[:-1], capacity)
    wider[..., :taken] = basis
    larger = projected.new_zeros(*projected.shape[:-2], capacity, capacity)
    larger[..., :taken, :taken] = projected
    return wider, larger


def _lanczos(operator: Callable[[Tensor], Tensor], start: Tensor, steps: int,
             generators: Sequence[torch.Generator], settle: Callable[[int, Tensor, Tensor, Tensor], Tensor]) -> None:
    """Lanczos with full re-orthogonalization on a batch of symmetric operators ``operator(v)``.

    ``start [..., N]`` are the starting vectors; at most ``steps`` steps. After step j,
    ``settle(j, values, vectors, size)`` receives the eigenvalues and eigenvectors of the
    projected matrix Qᵀ M Q ``[..., j+1, j+1]`` (ascending) and the norm ``[..., 1]`` of the
    new residual, from which a Ritz value's residual is ``size · |vectors[..., -1, i]|``; it
    returns which operators are final (bool ``[...]``), and the loop ends when all are. When
    the Krylov space is exhausted the next direction is a random one orthogonal to Q, drawn
    for operator k from ``generators[k]`` (the leading batch axis is the ensemble), so every
    estimate stays a Rayleigh–Ritz value and no member's numbers depend on another's.
    """
    batch, size_n = start.shape[:-1], start.shape[-1]
    capacity = min(steps, FIRST_BLOCK)
    basis = start.new_zeros(*batch, size_n, capacity)
    projected = start.new_zeros(*batch, capacity, capacity)  # Qᵀ M Q, filled one column at a time
    q = start / start.norm(dim=-1, keepdim=True)
    for j in range(steps):
        if j == capacity:
            capacity = min(steps, 2 * capacity)
            basis, projected = _grow(basis, projected, capacity)
        basis[..., j] = q
        z = operator(q)
        current = basis[..., : j + 1]
        residual, column = _orthogonalize(z, current)
        projected[..., : j + 1, j] = column
        projected[..., j, : j + 1] = column
        size = residual.norm(dim=-1, keepdim=True)
        values, vectors = torch.linalg.eigh(projected[..., : j + 1, : j + 1])
        final = settle(j, values, vectors, size)
        if j + 1 == steps or bool(final.all()):
            break
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


@overload
def top_singular_value(normal_map: Callable[[Tensor], Tensor], start: Tensor, iterations: int, tol: float,
                       generators: Sequence[torch.Generator], *, with_error: Literal[False] = False) -> Tensor: ...


@overload
def top_singular_value(normal_map: Callable[[Tensor], Tensor], start: Tensor, iterations: int, tol: float,
                       generators: Sequence[torch.Generator], *, with_error: Literal[True]) -> SpectralEstimate: ...


def top_singular_value(
    normal_map: Callable[[Tensor], Tensor],
    start: Tensor,
    iterations: int,
    tol: float,
    generators: Sequence[torch.Generator],
    *,
    with_error: bool = False,
) -> Tensor | SpectralEstimate:
    """``||M||_2`` for a batch of operators M given by ``normal_map(v) = MᵀM v``.

    ``start [..., m]`` are the starting vectors (one per operator, random: any fixed vector
    could be orthogonal to the top singular vector); ``normal_map`` maps ``[..., m]`` to
    ``[..., m]``. Runs at most ``min(iterations, m)`` Lanczos steps; an estimate is final once
    it changed by at most ``tol`` relative in a step and its a-posteriori relative error (the
    module's ``min(ρ, ρ²/γ)/(2θ)``) is at most ``tol``, and the loop ends when all are. A ``tol``
    below ``ROUND_OFF_ULPS`` units of the dtype's round-off, which no estimate settles below, is
    taken as that (1.4e-14 in float64, 7.6e-6 in float32). When the Krylov space is exhausted
    (M of low rank, or M = 0), the next direction is a random one orthogonal to Q, so the
    estimate remains a Rayleigh–Ritz value and M = 0 gives exactly 0.
    The leading batch axis is the ensemble: ``generators[k]`` draws member k's directions, and
    each estimate stops on its own, so a member's result never depends on the other members of
    its ensemble. With ``with_error``, returns the estimates with their error estimates (those
    of the last step taken: above ``tol`` where ``iterations`` ran out first).
    """
    batch = start.shape[:-1]
    tol = max(tol, ROUND_OFF_ULPS * torch.finfo(start.dtype).eps)
    estimate = start.new_zeros(batch)
    error = torch.full_like(estimate, float("inf"))
    final = torch.zeros(batch, dtype=torch.bool, device=start.device)

    def settle(j: int, values: Tensor, vectors: Tensor, size: Tensor) -> Tensor:
        nonlocal estimate, error, final
        theta = values[..., -1].clamp_min(0)
        second = values[..., -2].clamp_min(0) if j > 0 else theta
        top = theta.sqrt()
        # σ - sqrt(θ) = (λ - θ)/(σ + sqrt(θ)): half the eigenvalue's relative error
        bound = _eigenvalue_error(theta, theta - second, size.squeeze(-1) * vectors[..., -1, -1].abs()) / 2
        changed = (top - estimate).abs() <= tol * top if j > 0 else torch.zeros_like(final)
        estimate = torch.where(final, estimate, top)
        error = torch.where(final, error, bound)
        final = final | (changed & (bound <= tol))
        return final

    _lanczos(normal_map, start, max(1, min(iterations, start.shape[-1])), generators, settle)
    return SpectralEstimate(estimate, error) if with_error else estimate


class ExtremeEigenvalues(NamedTuple):
    """Lanczos estimates of the smallest and largest eigenvalues of a symmetric operator, with
    the a-posteriori bounds on their relative errors."""

    low: Tensor  # the smallest Ritz value, an upper bound of λ_min
    high: Tensor  # the largest Ritz value, a lower bound of λ_max
    low_error: Tensor  # min(ρ, ρ²/γ)/|θ| for the smallest Ritz value θ
    high_error: Tensor  # the same for the largest


def extreme_eigenvalues(operator: Callable[[Tensor], Tensor], start: Tensor, iterations: int, tol: float,
                        generators: Sequence[torch.Generator]) -> ExtremeEigenvalues:
    """λ_min and λ_max of a batch of symmetric operators given by ``operator(v) = M v``.

    The Lanczos method of ``top_singular_value`` (the same basis, re-orthogonalization and
    random restarts), reading both ends of the Ritz spectrum: the smallest Ritz value is an
    upper bound of λ_min and the largest a lower bound of λ_max, each within ``min(ρ, ρ²/γ)``
    of an eigenvalue (ρ its Ritz residual, γ the gap to its neighbouring Ritz value). An
    operator is final once both relative bounds (``min(ρ, ρ²/γ)/|θ|``) are at most ``tol``
    (at least ``ROUND_OFF_ULPS`` units of round-off), or after ``min(iterations, N)`` steps,
    where N steps span the whole space and the values are exact up to round-off. The
    smallest end converges more slowly than the largest when the kernel is ill conditioned:
    its bound is the one to read.
    """
    batch = start.shape[:-1]
    tol = max(tol, ROUND_OFF_ULPS * torch.finfo(start.dtype).eps)
    inf = torch.full(batch, float("inf"), dtype=start.dtype, device=start.device)
    found = ExtremeEigenvalues(start.new_zeros(batch), start.new_zeros(batch), inf, inf)
    final = torch.zeros(batch, dtype=torch.bool, device=start.device)

    def settle(j: int, values: Tensor, vectors: Tensor, size: Tensor) -> Tensor:
        nonlocal found, final
        ends = []
        for end, neighbour in ((0, 1), (-1, -2)):
            theta = values[..., end]
            gap = (values[..., neighbour] - theta).abs() if j > 0 else torch.zeros_like(theta)
            residual = size.squeeze(-1) * vectors[..., -1, end].abs()
            ends.append((theta, _eigenvalue_error(theta, gap, residual)))
        (low, low_error), (high, high_error) = ends
        found = ExtremeEigenvalues(*(torch.where(final, old, new) for old, new in
                                     zip(found, (low, high, low_error, high_error))))
        final = final | ((found.low_error <= tol) & (found.high_error <= tol))
        return final

    _lanczos(operator, start, max(1, min(iterations, start.shape[-1])), generators, settle)
    return found
