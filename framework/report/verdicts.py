"""Verdict rules: when a store's numbers support one of the paper's claims, and when they contradict it.

The paper's statements are asymptotic (m ≥ poly(n, d, L, δ⁻¹)) and hide constants in O(·) and
poly(ρ). A finite scan can test only their *shape*: an exponent, a threshold, a growth law.
Every judged number comes with a 95% interval over replicas (``fits.t_interval``), and the
rules read the interval, never the estimate alone (docs/report.md explains them with examples):

1. **not enough range**: a scaling law needs at least ``MIN_VALUES`` distinct axis values with
   done points, spanning a factor of at least ``MIN_FACTOR``, and at least ``MIN_POINTS`` done
   points in all.
2. **not enough replicas**: an interval needs at least ``fits.MIN_REPLICAS`` replicas measured.
3. **supported**: the whole interval lies on the side of the bound the paper allows.
4. **contradicted**: the whole interval lies on the other side.
5. **inconclusive**: the interval contains the bound: the data decide neither way.

A claim that holds for m large enough is judged at the largest width measured; the verdicts at
smaller widths are stated beside it, as where the regime ends, and do not decide.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from framework.contract.verdicts import Assessment, Verdict
from framework.report.fits import MIN_REPLICAS, LineFit

MIN_VALUES = 3
MIN_FACTOR = 4.0
MIN_POINTS = 3


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


def interval_verdict(estimate: float, low: float, high: float, replicas: int, bound: float, allowed: str,
                     what: str, unit: str = "") -> Assessment:
    """Judge a number's interval against a bound: ``allowed`` is ``"below"`` (≤ bound) or ``"above"``.

    ``what`` names the number in the sentence (``the exponent of ‖D'‖_0 in m``).
    """
    sign = "≤" if allowed == "below" else "≥"
    if not (np.isfinite(low) and np.isfinite(high)):
        return Assessment(Verdict.NOT_ENOUGH_REPLICAS,
                          f"{what} is {estimate:.3g}{unit} from {replicas} replica(s); an interval needs at least "
                          f"{MIN_REPLICAS}")
    measured = f"{what} is {estimate:.3g}{unit}, 95% interval [{low:.3g}, {high:.3g}] over {replicas} replicas"
    inside = high <= bound if allowed == "below" else low >= bound
    outside = low > bound if allowed == "below" else high < bound
    number = (float(estimate), float(low), float(high))
    if inside:
        return Assessment(Verdict.SUPPORTED, f"{measured}: the whole interval is {sign} {bound:.3g}, as the paper says",
                          number)
    if outside:
        return Assessment(Verdict.CONTRADICTED,
                          f"{measured}: the whole interval violates {sign} {bound:.3g} (over the measured range; the "
                          "paper's bound is asymptotic, and a wider range may set it in)", number)
    return Assessment(Verdict.INCONCLUSIVE, f"{measured}: the interval contains {bound:.3g}, so the data decide "
                      f"neither for nor against {sign} {bound:.3g}", number)


def exponent_verdict(fit: LineFit, bound: float, allowed: str, what: str) -> Assessment:
    """Judge a fitted slope's interval against a bound (``interval_verdict``)."""
    return interval_verdict(fit.slope, fit.low, fit.high, fit.replicas, bound, allowed, what)


UNMEASURED = (Verdict.NOT_ENOUGH_RANGE, Verdict.NOT_ENOUGH_REPLICAS, Verdict.DESCRIPTIVE)


def combine(assessments: list[tuple[str, Assessment]]) -> Assessment:
    """One verdict for several series that all decide (one per optimizer, say): supported only if
    every measured series is.

    Any contradicted series makes the claim contradicted, then any inconclusive one
    inconclusive; series that could not be measured are named but do not count; none measured
    gives the first unmeasured verdict. The judged number is that of the first series with
    the verdict given.
    """
    if not assessments:
        return Assessment(Verdict.NOT_ENOUGH_RANGE, "no series could be fitted")
    if len(assessments) == 1:
        return assessments[0][1]
    reasons = "; ".join(f"{label}: {a.reason}" for label, a in assessments)
    for verdict in (Verdict.CONTRADICTED, Verdict.INCONCLUSIVE, Verdict.SUPPORTED):
        deciding = [a for _, a in assessments if a.verdict is verdict]
        if deciding:
            return Assessment(verdict, reasons, deciding[0].measured)
    return Assessment(assessments[0][1].verdict, reasons)


def with_regime(decisive: list[tuple[str, Assessment]], smaller: list[tuple[str, Assessment]],
                where: str) -> Assessment:
    """The verdict of the ``decisive`` series (those at the largest width), with the smaller widths'
    verdicts stated after it as context: they show where the regime ends but do not decide."""
    verdict = combine(decisive)
    if not smaller:
        return verdict
    context = "; ".join(f"{label}: {a.verdict}" for label, a in smaller)
    return Assessment(verdict.verdict, f"judged {where}: {verdict.reason}. At smaller widths (context, not judged): "
                      f"{context}", verdict.measured)
