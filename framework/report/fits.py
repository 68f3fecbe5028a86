"""Scaling-law fits with bootstrap confidence intervals over replicas.

The paper's claims about width, depth and separation are asymptotic power laws or bounds on
them: ‖D'‖_0 ≤ O(m^{2/3}) in (5.1), ‖W − W0‖_2 ≤ poly(ϱ)/√m in Theorems 3–4, T polynomial
(not exponential) in L in Theorems 1–2. A store holds, for each value x of a grid axis, one
measurement per replica (the ``seed`` axis). A straight line through (log x, log y) gives the
exponent of a power law y = c·x^a; through (x, log y), the growth constant r of an exponential y = c·e^{r x}.

The point estimate is ordinary least squares over every finite, positive (x, y) pair, all
replicas pooled. Its uncertainty comes from a cluster bootstrap: whole replicas are drawn with
replacement (a replica's points at different x share its data set and random streams, so they
are resampled together) and the line is refitted; the interval is the central ``level``
fraction of the refitted slopes (percentile interval). With a single replica there is nothing
to resample across, so the (x, y) pairs themselves are resampled instead. Every draw is seeded:
the same inputs give the same interval.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BOOTSTRAP_DRAWS = 2000
LEVEL = 0.95


@dataclass(frozen=True)
class LineFit:
    """A fitted line v = intercept + slope·u with a bootstrap interval for the slope.

    For a power law (u = ln x, v = ln y) the slope is the exponent a and ``exp(intercept)`` the
    prefactor c; for an exponential (u = x, v = ln y) the slope is the growth constant r.
    """

    slope: float
    intercept: float
    low: float
    high: float
    points: int
    replicas: int
    residual: float
    """Root-mean-square residual of v (natural-log units): how far the data sit from the line."""

    @property
    def prefactor(self) -> float:
        return float(np.exp(self.intercept))

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def text(self, symbol: str = "a") -> str:
        """``a = 0.52 [0.41, 0.63]``: the estimate and its interval, three significant figures."""
        return f"{symbol} = {self.slope:.3g} [{self.low:.3g}, {self.high:.3g}]"


def _least_squares(u: np.ndarray, v: np.ndarray) -> tuple[float, float]:
    """Slope and intercept of the least-squares line through (u, v); NaN when u has no spread."""
    centered = u - u.mean()
    spread = float((centered * centered).sum())
    if spread == 0.0:
        return float("nan"), float("nan")
    slope = float((centered * (v - v.mean())).sum() / spread)
    return slope, float(v.mean() - slope * u.mean())


def _weighted_slopes(u: np.ndarray, v: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Least-squares slopes of v on u, one per draw: ``weights`` ``[draws, *u.shape]`` counts each point."""
    total = weights.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_u = (weights * u).sum(axis=(1, 2)) / total
        mean_v = (weights * v).sum(axis=(1, 2)) / total
        du = u[None] - mean_u[:, None, None]
        spread = (weights * du * du).sum(axis=(1, 2))
        slopes = (weights * du * (v[None] - mean_v[:, None, None])).sum(axis=(1, 2)) / spread
    return np.where(spread > 1e-12 * np.maximum(1.0, (weights * u * u).sum(axis=(1, 2))), slopes, np.nan)


def _as_columns(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x as ``[n_x]`` and y as ``[n_x, n_replicas]`` (a 1-D y is one replica)."""
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float)
    if y.ndim == 1:
        y = y[:, None]
    if y.shape[0] != x.size:
        raise ValueError(f"y has {y.shape[0]} rows for {x.size} values of x")
    return x, y


def fit_line(u: np.ndarray, v: np.ndarray, *, draws: int = BOOTSTRAP_DRAWS, level: float = LEVEL,
             seed: int = 0) -> LineFit:
    """Least-squares line through (u, v) with a cluster-bootstrap interval for its slope.

    ``u`` is ``[n_x]``; ``v`` is ``[n_x, n_replicas]`` (or ``[n_x]``), NaN where a replica has
    no value. Replicas (columns) are resampled whole; with one replica, the points are.
    The interval is NaN when fewer than two distinct u remain.
    """
    u, v = _as_columns(u, v)
    finite = np.isfinite(v) & np.isfinite(u)[:, None]
    columns = [c for c in range(v.shape[1]) if finite[:, c].any()]
    uu = np.broadcast_to(u[:, None], v.shape)
    slope, intercept = _least_squares(uu[finite], v[finite])
    residual = float(np.sqrt(np.mean((v[finite] - intercept - slope * uu[finite]) ** 2))) if finite.any() else np.nan
    rng = np.random.default_rng(seed)
    if len(columns) >= 2:  # a draw counts how often each replica was picked; its points weigh that much
        picks = rng.multinomial(len(columns), np.full(len(columns), 1 / len(columns)), size=draws)
        counts = np.zeros((draws, v.shape[1]))
        counts[:, columns] = picks
        weights = counts[:, None, :] * finite[None]
    else:  # one replica: resample its points
        picks = rng.multinomial(int(finite.sum()), np.full(int(finite.sum()), 1 / finite.sum()), size=draws)
        weights = np.zeros((draws, *v.shape))
        weights[:, finite] = picks
    slopes = _weighted_slopes(uu, np.where(finite, v, 0.0), weights)
    slopes = slopes[np.isfinite(slopes)]
    tail = 100 * (1 - level) / 2
    low, high = (np.percentile(slopes, [tail, 100 - tail]) if slopes.size else (np.nan, np.nan))
    return LineFit(slope, intercept, float(low), float(high), int(finite.sum()), len(columns), residual)


def _positive(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=float)
    return np.where(y > 0, y, np.nan)


def fit_power_law(x: np.ndarray, y: np.ndarray, *, draws: int = BOOTSTRAP_DRAWS, level: float = LEVEL,
                  seed: int = 0) -> LineFit:
    """Fit y = c·x^a by least squares in log-log; ``slope`` is a, with a bootstrap interval.

    ``x`` is ``[n_x]`` (positive), ``y`` is ``[n_x, n_replicas]`` or ``[n_x]``; non-positive and
    NaN values of y are left out (a logarithm needs a positive number).
    """
    x, y = _as_columns(x, y)
    return fit_line(np.log(np.where(x > 0, x, np.nan)), np.log(_positive(y)), draws=draws, level=level, seed=seed)


def fit_exponential(x: np.ndarray, y: np.ndarray, *, draws: int = BOOTSTRAP_DRAWS, level: float = LEVEL,
                    seed: int = 0) -> LineFit:
    """Fit y = c·e^{r x} by least squares of ln y on x; ``slope`` is r, with a bootstrap interval.

    The growth factor per unit of x is e^r: above √2 per layer is the exponential blow-up that
    (4.4) rules out for ReLU chains.
    """
    x, y = _as_columns(x, y)
    return fit_line(x, np.log(_positive(y)), draws=draws, level=level, seed=seed)
