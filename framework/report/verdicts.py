"""Verdict rules: when a store's numbers may be called consistent with one of the paper's claims.

The paper's statements are asymptotic (m ≥ poly(n, d, L, δ⁻¹)) and hide constants in O(·) and
poly(ρ). A finite scan can test only their *shape*: an exponent, a threshold, a growth law.
The rules, applied in this order (docs/report.md explains them with examples):

1. **not enough range** — a scaling law needs at least ``MIN_VALUES`` distinct axis values with
   done points, spanning a factor of at least ``MIN_FACTOR``, and at least ``MIN_POINTS`` done
   points in all; an exponent whose interval is wider than ``MAX_INTERVAL`` is not a measurement.
2. **not consistent** — the whole confidence interval lies on the side the paper rules out
   (a threshold: the points at the largest width violate it).
3. **consistent** — the point estimate lies on the side the paper allows (a threshold: every
   point at the largest width satisfies it; smaller widths may not, since the theorems need m
   large, and the text says so).
4. **inconclusive** — the estimate is on the forbidden side but its interval reaches the allowed
   side: the data neither support nor contradict the claim.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from framework.report.fits import LineFit

MIN_VALUES = 3
MIN_FACTOR = 4.0
MIN_POINTS = 3
MAX_INTERVAL = 1.0


class Verdict(str, Enum):
    CONSISTENT = "consistent"
    NOT_CONSISTENT = "not consistent"
    INCONCLUSIVE = "inconclusive"
    NOT_ENOUGH_RANGE = "not enough range"
    DESCRIPTIVE = "no claim"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Assessment:
    """A verdict and the sentence that justifies it from the numbers."""

    verdict: Verdict
    reason: str


@dataclass
class Finding:
    """One claim of the paper as the store tests it: statement, figures, numbers, verdict."""

    title: str
    paper_ref: str
    statement: str
    figures: list[str] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)
    assessment: Assessment | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Skipped:
    """A figure or claim the store cannot show, and what it lacks."""

    title: str
    reason: str


def range_problem(x: np.ndarray, y: np.ndarray, axis: str) -> str | None:
    """Why the values of y (``[n_x, n_replicas]``) over x cannot support a scaling law, or None."""
    x = np.asarray(x, dtype=float)
    usable = np.isfinite(y).any(axis=1) & (x > 0)
    values = np.unique(x[usable])
    points = int(np.isfinite(y[usable]).sum())
    if values.size < MIN_VALUES:
        return f"{values.size} value(s) of {axis} with done points; a scaling law needs at least {MIN_VALUES}"
    if values.max() / values.min() < MIN_FACTOR:
        return (f"{axis} spans a factor {values.max() / values.min():.3g}; a scaling law needs at least "
                f"a factor {MIN_FACTOR:g}")
    if points < MIN_POINTS:
        return f"{points} done point(s); a fit needs at least {MIN_POINTS}"
    return None


def exponent_verdict(fit: LineFit, bound: float, allowed: str, what: str) -> Assessment:
    """Judge a fitted slope against a bound: ``allowed`` is ``"below"`` (slope ≤ bound) or ``"above"``.

    ``what`` names the slope in the sentence (``the exponent of ‖D'‖_0 in m``).
    """
    if not np.isfinite(fit.low) or fit.high - fit.low > MAX_INTERVAL:
        return Assessment(Verdict.NOT_ENOUGH_RANGE,
                          f"{what} is {fit.slope:.3g} with an interval [{fit.low:.3g}, {fit.high:.3g}] too wide "
                          f"to judge (wider than {MAX_INTERVAL:g})")
    sign = "≤" if allowed == "below" else "≥"
    ok = fit.slope <= bound if allowed == "below" else fit.slope >= bound
    excluded = fit.low > bound if allowed == "below" else fit.high < bound
    measured = f"{what} is {fit.slope:.3g}, 95% interval [{fit.low:.3g}, {fit.high:.3g}]"
    if excluded:
        return Assessment(Verdict.NOT_CONSISTENT,
                          f"{measured}: the whole interval violates {sign} {bound:.3g} (the paper's bound is "
                          "asymptotic: its scaling has not set in over the measured range, which a larger range "
                          "may change)")
    if ok:
        return Assessment(Verdict.CONSISTENT, f"{measured}, {sign} {bound:.3g} as the paper allows")
    return Assessment(Verdict.INCONCLUSIVE,
                      f"{measured}: the estimate violates {sign} {bound:.3g} but the interval reaches it")


def combine(assessments: list[tuple[str, Assessment]]) -> Assessment:
    """One verdict for several series (one per optimizer, say): the worst that is measured.

    Any ``not consistent`` series makes the claim not consistent, then any inconclusive one
    inconclusive; series with too little range are named but do not count; none measured is
    not enough range.
    """
    if not assessments:
        return Assessment(Verdict.NOT_ENOUGH_RANGE, "no series could be fitted")
    if len(assessments) == 1:
        return assessments[0][1]
    reasons = "; ".join(f"{label}: {a.reason}" for label, a in assessments)
    verdicts = {a.verdict for _, a in assessments}
    for verdict in (Verdict.NOT_CONSISTENT, Verdict.INCONCLUSIVE):
        if verdict in verdicts:
            return Assessment(verdict, reasons)
    if Verdict.CONSISTENT in verdicts:
        return Assessment(Verdict.CONSISTENT, reasons)
    return Assessment(Verdict.NOT_ENOUGH_RANGE, reasons)
