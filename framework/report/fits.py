"""Scaling-law fits with confidence intervals over replicas.

The paper's claims about width, depth and separation are asymptotic power laws or bounds on
them: ‖D'‖_0 ≤ O(m^{2/3}) in (5.1), ‖W − W0‖_2 ≤ poly(ϱ)/√m in Theorems 3–4, T polynomial
(not exponential) in L in Theorems 1–2. A store holds, for each value x of a grid axis, one
measurement per replica (the ``seed`` axis). A straight line through (log x, log y) gives the
exponent of a power law y = c·x^a; through (x, log y), the growth constant r of an exponential
y = c·e^{r x}.

Replicas are the independent units: a replica's points at different x share its data set and
random streams, so its points are not independent of each other, but two replicas are. Each
replica's points are therefore fitted on their own (least squares), giving one slope per
replica; the estimate is their mean and its interval the Student-t interval over replicas,
mean ± t_{R−1} · sd / √R. That interval covers the true slope at its nominal level when the
per-replica slopes scatter normally around it, whatever the correlation inside a replica
(tests/test_fit_coverage.py checks the coverage on data made with a known exponent and noise).
With every replica measured at the same x, the mean slope is also the pooled least-squares
slope. Fewer than ``MIN_REPLICAS`` replicas give no interval (NaN): two slopes make an interval
too wide to say anything (t₁ = 12.7), and the report calls such a fit "not enough replicas".
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LEVEL = 0.95
MIN_REPLICAS = 3
"""The fewest replicas with a slope for an interval: t₂ = 4.30 at 95%, against 12.7 for two."""


@dataclass(frozen=True)
class LineFit:
    """A fitted line v = intercept + slope·u with a confidence interval for the slope.

    For a power law (u = ln x, v = ln y) the slope is the exponent a and ``exp(intercept)`` the
    prefactor c; for an exponential (u = x, v = ln y) the slope is the growth constant r.
    ``low`` and ``high`` are NaN when fewer than ``MIN_REPLICAS`` replicas could be fitted.
    """

    slope: float
    intercept: float
    low: float
    high: float
    points: int
    replicas: int
    residual: float
    """Root-mean-square residual of v about the mean line (natural-log units)."""

    @property
    def prefactor(self) -> float:
        return float(np.exp(self.intercept))

    @property
    def has_interval(self) -> bool:
        return bool(np.isfinite(self.low) and np.isfinite(self.high))

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def text(self, symbol: str = "a") -> str:
        """``a = 0.52 [0.41, 0.63]``: the estimate and its interval, three significant figures."""
        if not self.has_interval:
            return f"{symbol} = {self.slope:.3g} (no interval: {self.replicas} replica(s))"
        return f"{symbol} = {self.slope:.3g} [{self.low:.3g}, {self.high:.3g}]"


def t_interval(values: np.ndarray, level: float = LEVEL) -> tuple[float, float, float]:
    """Mean of ``values`` (one per replica, NaN left out) and its Student-t interval.

    The interval is NaN with fewer than ``MIN_REPLICAS`` finite values. This is the one rule
    every fit of the report uses for its uncertainty.
    """
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(values.mean())
    if values.size < MIN_REPLICAS:
        return mean, float("nan"), float("nan")
    from scipy.stats import t as student_t  # here: scipy.stats takes 1.5 s to import, and `show` fits nothing

    half = float(student_t.ppf(0.5 + level / 2, values.size - 1) * values.std(ddof=1) / np.sqrt(values.size))
    return mean, mean - half, mean + half


def geometric_interval(values: np.ndarray, level: float = LEVEL) -> tuple[float, float, float]:
    """Geometric mean of positive ``values`` (one per replica, NaN left out) and its interval:
    ``t_interval`` of their logarithms, exponentiated (steps, widths and their ratios spread on a
    log scale)."""
    mean, low, high = t_interval(np.log(np.asarray(values, dtype=float)), level)
    return float(np.exp(mean)), float(np.exp(low)), float(np.exp(high))


def _as_columns(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x as ``[n_x]`` and y as ``[n_x, n_replicas]`` (a 1-D y is one replica)."""
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float)
    if y.ndim == 1:
        y = y[:, None]
    if y.shape[0] != x.size:
        raise ValueError(f"y has {y.shape[0]} rows for {x.size} values of x")
    return x, y


def replica_coefficients(columns: list[np.ndarray], v: np.ndarray, distinct: np.ndarray,
                         least: int) -> np.ndarray:
    """Least-squares coefficients of each replica (column of ``v`` ``[n_x, R]``) on the regressors
    ``columns`` (each ``[n_x]``): ``[R, len(columns)]``, NaN where a replica has fewer than
    ``least`` distinct values of ``distinct`` among its finite points."""
    coefficients = np.full((v.shape[1], len(columns)), np.nan)
    design = np.stack(columns, axis=1)
    usable = np.isfinite(design).all(axis=1)
    for column in range(v.shape[1]):
        keep = usable & np.isfinite(v[:, column])
        if np.unique(distinct[keep]).size >= least:
            coefficients[column] = np.linalg.lstsq(design[keep], v[keep, column], rcond=None)[0]
    return coefficients


def fit_line(u: np.ndarray, v: np.ndarray, *, level: float = LEVEL) -> LineFit:
    """A line through (u, v) per replica, their mean, and the t interval of the mean slope.

    ``u`` is ``[n_x]``; ``v`` is ``[n_x, n_replicas]`` (or ``[n_x]``), NaN where a replica has
    no value.
    """
    u, v = _as_columns(u, v)
    intercepts, slopes = replica_coefficients([np.ones_like(u), u], v, u, least=2).T
    fitted = np.isfinite(slopes)
    slope, low, high = t_interval(slopes, level)
    intercept = float(intercepts[fitted].mean()) if fitted.any() else float("nan")
    finite = np.isfinite(v) & np.isfinite(u)[:, None] & fitted[None, :]
    uu = np.broadcast_to(u[:, None], v.shape)
    residual = (float(np.sqrt(np.mean((v[finite] - intercept - slope * uu[finite]) ** 2))) if finite.any()
                else float("nan"))
    return LineFit(slope, intercept, low, high, int(finite.sum()), int(fitted.sum()), residual)


def _positive(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=float)
    return np.where(y > 0, y, np.nan)


def fit_power_law(x: np.ndarray, y: np.ndarray, *, level: float = LEVEL) -> LineFit:
    """Fit y = c·x^a by least squares in log-log; ``slope`` is a, with its t interval over replicas.

    ``x`` is ``[n_x]`` (positive), ``y`` is ``[n_x, n_replicas]`` or ``[n_x]``; non-positive and
    NaN values of y are left out (a logarithm needs a positive number).
    """
    x, y = _as_columns(x, y)
    return fit_line(np.log(np.where(x > 0, x, np.nan)), np.log(_positive(y)), level=level)


def fit_exponential(x: np.ndarray, y: np.ndarray, *, level: float = LEVEL) -> LineFit:
    """Fit y = c·e^{r x} by least squares of ln y on x; ``slope`` is r, with its t interval.

    The growth factor per unit of x is e^r: above √2 per layer is the exponential blow-up that
    (4.4) rules out for ReLU chains.
    """
    x, y = _as_columns(x, y)
    return fit_line(x, np.log(_positive(y)), level=level)


@dataclass(frozen=True)
class GrowthFit:
    """ln y = a + b ln x + r x fitted per replica: ``power`` is b, ``exponential`` r (t intervals over replicas).

    A polynomial in x has r = 0 whatever its degree; an exponential has r > 0 whatever power
    multiplies it. ``exponential`` separates the two, net of the power.
    """

    power: tuple[float, float, float]
    exponential: tuple[float, float, float]
    replicas: int


def fit_growth(x: np.ndarray, y: np.ndarray, *, level: float = LEVEL) -> GrowthFit:
    """The power and the exponential constant of y in x at once, per replica (needs 4 distinct x)."""
    x, y = _as_columns(x, y)
    positive = np.where(x > 0, x, np.nan)
    _, powers, constants = replica_coefficients([np.ones_like(x), np.log(positive), positive], np.log(_positive(y)),
                                                x, least=4).T
    return GrowthFit(t_interval(powers, level), t_interval(constants, level), int(np.isfinite(constants).sum()))
