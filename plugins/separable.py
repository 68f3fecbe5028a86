"""The `separable` generator: δ-separable sequences (§2.1, Assumption 2.1) with random targets."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

import torch
from pydantic import Field, model_validator

from overparam import Generator, Params, Problem, hookimpl
from overparam.engine import seeded_generator

if TYPE_CHECKING:
    from torch import Tensor

FIRST_INPUT_LAST_COORDINATE = 1 / math.sqrt(2)
PLACEMENT_ROUNDS = 2000


class SeparableParams(Params):
    n: int = Field(8, ge=1, description="number of sequences")
    L: int = Field(8, ge=1, description="sequence length (layers)")
    d_x: int = Field(8, ge=2, description="input dimension (>= 2: x_1 has unit norm and last coordinate 1/sqrt(2))")
    d: int = Field(4, ge=1, description="output dimension")
    delta: float = Field(0.3, gt=0, le=1, description="required min_{i!=j} ||x_{i,1} - x_{j,1}|| (Assumption 2.1)")
    input_norm_min: float = Field(1.0, gt=0, le=1, description="smallest norm of x_{i,l}, l >= 2")
    input_norm_max: float = Field(1.0, gt=0, le=1, description="largest norm of x_{i,l}, l >= 2")
    target_scale: float = Field(1.0, gt=0, description="targets are N(0, target_scale^2/d) per coordinate")
    shared_tail: bool = Field(False, description="every sequence has the same inputs after the first, so the first "
                                                 "inputs alone tell the sequences apart and delta is the whole data's "
                                                 "separation")
    tight: bool = Field(False, description="place the first two sequences' first inputs exactly delta apart, so the "
                                           "data's separation is delta itself, not only at least delta")

    @model_validator(mode="after")
    def _consistent(self) -> SeparableParams:
        if self.input_norm_min > self.input_norm_max:
            raise ValueError(
                f"input_norm_min ({self.input_norm_min}) must not exceed input_norm_max ({self.input_norm_max})"
            )
        reason = _impossibility(self.n, self.d_x - 1, self.delta)
        if reason:  # refused when the pipeline is validated, not when the job runs
            raise ValueError(f"cannot place n = {self.n} sequences at separation delta = {self.delta}: {reason}")
        return self


def _unit_rows(count: int, dim: int, rng: torch.Generator) -> Tensor:
    """``count`` directions uniform on the unit sphere of R^dim (normalized Gaussians)."""
    z = torch.randn(count, dim, generator=rng, dtype=torch.float64)
    return z / z.norm(dim=1, keepdim=True)


def _impossibility(n: int, k: int, delta: float) -> str | None:
    """Why n points at pairwise distance >= δ cannot exist on the sphere of radius 1/sqrt(2) in
    R^k, by the bounds that are exact: k = 1 holds two points; distance >= 1 (angle >= 90°)
    holds at most 2k points (Rankin)."""
    if n <= 1:
        return None
    if k == 1 and n > 2:
        return (f"with d_x = 2 the first inputs are (±1/sqrt(2), 1/sqrt(2)): at most 2 distinct "
                f"sequences, not n = {n}; raise d_x")
    if delta >= 1 and n > 2 * k:
        return (f"distance >= 1 between points of norm 1/sqrt(2) means angles >= 90°, and R^{k} "
                f"(d_x - 1 = {k}) holds at most {2 * k} such points, not n = {n}; lower delta or raise d_x")
    return None


def _min_pairwise_distance(points: Tensor) -> float:
    if points.shape[0] < 2:
        return math.inf
    dist = torch.cdist(points, points)
    dist.fill_diagonal_(math.inf)
    return float(dist.min())


def _at_distance(point: Tensor, delta: float, rng: torch.Generator) -> Tensor:
    """A point on the sphere of ``point``'s radius, exactly ``delta`` from it (chord length), in a
    random direction: rotated by θ = 2 asin(δ / 2r) towards a random unit vector orthogonal to it."""
    radius = float(point.norm())
    along = point / radius
    other = torch.randn(point.shape[0], generator=rng, dtype=torch.float64)
    other = other - (other @ along) * along
    other = other / other.norm()
    angle = 2 * math.asin(delta / (2 * radius))
    return radius * (math.cos(angle) * along + math.sin(angle) * other)


def separated_first_inputs(n: int, d_x: int, delta: float, rng: torch.Generator, tight: bool = False) -> Tensor:
    """``x_{i,1}``: unit norm, last coordinate 1/sqrt(2), pairwise distance >= δ (Assumption 2.1).

    The first d_x - 1 coordinates are a point on the sphere of radius 1/sqrt(2); points in a
    too-close pair are redrawn (the later one of each pair) until none is left. ``tight`` puts the
    second point exactly δ from the first (n >= 2, d_x >= 3), so that δ is the data's separation:
    random points are usually much farther apart than a small δ. Raises ``ValueError`` saying why
    when the request is impossible or no placement was found.
    """
    k = d_x - 1
    reason = _impossibility(n, k, delta)
    if reason:
        raise ValueError(f"cannot place n = {n} sequences at separation delta = {delta}: {reason}")
    radius = FIRST_INPUT_LAST_COORDINATE
    points = radius * _unit_rows(n, k, rng)
    tight = tight and n >= 2 and k >= 2
    if tight:
        points[1] = _at_distance(points[0], delta, rng)
    for _ in range(PLACEMENT_ROUNDS):
        dist = torch.cdist(points, points)
        if tight:  # the one pair placed at exactly δ is not too close
            dist[0, 1] = dist[1, 0] = math.inf
        too_close = torch.triu(dist < delta, diagonal=1).any(dim=0)  # the later point of a close pair
        if not too_close.any():
            break
        points[too_close] = radius * _unit_rows(int(too_close.sum()), k, rng)
    else:
        raise ValueError(
            f"cannot place n = {n} sequences at separation delta = {delta} in d_x = {d_x}: after "
            f"{PLACEMENT_ROUNDS} rounds of redrawing, the closest pair is "
            f"{_min_pairwise_distance(points):.4g} apart; lower delta or raise d_x"
        )
    last = torch.full((n, 1), radius, dtype=torch.float64)
    return torch.cat([points, last], dim=1)


class Separable(Generator):
    """δ-separable random sequences with random targets (§2.1, Assumption 2.1)."""

    name: ClassVar[str] = "separable"
    Params: ClassVar[type[Params]] = SeparableParams

    def generate(self, params: SeparableParams, seed: int) -> Problem:
        """Inputs per §2.1: ``||x_{i,1}|| = 1`` with last coordinate 1/sqrt(2), pairwise distance
        >= δ (one pair at exactly δ when ``tight``); later inputs uniform in direction with norm uniform in
        [input_norm_min, input_norm_max] (<= 1), the same for every sequence when ``shared_tail``; targets i.i.d. N(0, target_scale²/d),
        independent of the inputs ("fit random labels")."""
        rng = seeded_generator(seed)
        n, L, d_x, d = params.n, params.L, params.d_x, params.d
        first = separated_first_inputs(n, d_x, params.delta, rng, params.tight)
        directions = _unit_rows(n * (L - 1), d_x, rng).view(n, L - 1, d_x)
        low, high = params.input_norm_min, params.input_norm_max
        norms = low + (high - low) * torch.rand(n, L - 1, 1, generator=rng, dtype=torch.float64)
        if params.shared_tail:  # the first sequence's later inputs, for every sequence
            directions, norms = directions[:1].expand_as(directions), norms[:1].expand_as(norms)
        X = torch.cat([first.unsqueeze(1), directions * norms], dim=1)
        Y = params.target_scale / math.sqrt(d) * torch.randn(n, L, d, generator=rng, dtype=torch.float64)
        delta = torch.tensor([_min_pairwise_distance(first)], dtype=torch.float64)
        return Problem(X.unsqueeze(0), Y.unsqueeze(0), delta)


@hookimpl
def overparam_register_generators() -> list[type[Generator]]:
    """The `separable` generator."""
    return [Separable]
