"""One quantity against one grid axis, fitted and drawn: the building block of the scaling figures.

A quantity measured per grid point (the minimum of a ratio over training, a final norm, ...) is
split into series, one per combination of the scanned axes other than the one on the x axis;
each series is drawn as the median over replicas with a min–max band, fitted as a power law (or
an exponential) with a t interval over replicas, and judged against the paper's bound: at the
largest width when the series differ in m, since the theorems hold for m large enough.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from framework.report.fits import LineFit, fit_exponential, fit_growth, fit_power_law
from framework.report.plotting import color, finish, median_band
from framework.contract.verdicts import Assessment, Verdict
from framework.report.verdicts import (
    UNMEASURED,
    combine,
    interval_verdict,
    range_problem,
    with_regime,
)
from framework.contract.store_view import DEPTH_AXIS, WIDTH_AXIS, StoreView

if TYPE_CHECKING:  # matplotlib is imported where a figure is drawn: `overparam show` draws none
    from matplotlib.axes import Axes

MAX_SERIES = 8
AXIS_LABELS = {WIDTH_AXIS: "width m (neurons)", DEPTH_AXIS: "sequence length L (layers)", "n": "sequences n",
               "delta": "separation δ (Assumption 2.1)"}


@dataclass(frozen=True)
class Series:
    """One line of a scaling figure: its label, x values, replicas and fit (None: too little range)."""

    label: str
    axis: str
    x: np.ndarray
    y: np.ndarray
    fit: LineFit | None
    problem: str | None
    selection: dict[str, object]


def series_of(view: StoreView, values: xr.DataArray, axis: str, *, model: str = "power",
              others: list[str] | None = None) -> tuple[list[Series], list[str]]:
    """Split ``values`` (dims ⊆ grid dims) into series along ``axis``, each fitted; and notes.

    ``model`` is ``"power"`` (log-log) or ``"exponential"`` (log y against x). Every series is
    fitted; figures draw the first ``MAX_SERIES`` (``draw_series``) and a note says so.
    """
    fitter = fit_power_law if model == "power" else fit_exponential
    dims = [d for d in (others if others is not None else view.scanned) if d != axis and d in values.dims]
    selections = list(view.combinations(dims))
    notes = []
    if len(selections) > MAX_SERIES:
        notes.append(f"only the first {MAX_SERIES} of {len(selections)} series are drawn; all are fitted and judged")
    x = np.asarray(values[axis].values, dtype=float)
    result = []
    for selection in selections:
        y = view.replicas(values.sel(selection), axis)
        problem = range_problem(x, y, axis)
        fit = None if problem else fitter(x, y)
        result.append(Series(view.label(selection) or "all points", axis, x, y, fit, problem, selection))
    return result, notes


def draw_series(ax: Axes, series: list[Series], *, symbol: str = "a", model: str = "power") -> None:
    """The first ``MAX_SERIES`` series, each as median and band, its fitted line dashed, its fit in the legend."""
    for index, line in enumerate(series[:MAX_SERIES]):
        colour = color(index)
        label = line.label if line.fit is None else f"{line.label}: {line.fit.text(symbol)}"
        if not median_band(ax, line.x, line.y, label, colour):
            continue
        if line.fit is not None:
            grid = np.linspace(np.nanmin(line.x), np.nanmax(line.x), 50)
            u = np.log(grid) if model == "power" else grid
            ax.plot(grid, np.exp(line.fit.intercept + line.fit.slope * u), color=colour, linestyle="--",
                    linewidth=0.9)


def axis_label(axis: str) -> str:
    """The x label of a grid axis: ``width m (neurons)`` for ``m``, the axis name for one unknown."""
    return AXIS_LABELS.get(axis, axis)


def scaling_axes(ax: Axes, view: StoreView, axis: str, ylabel: str) -> None:
    """Finish a panel whose x axis is a grid axis: log-log, ticks at the grid's values."""
    finish(ax, axis_label(axis), ylabel, logx=True, logy=True, xticks=view.ds[axis].values)


def first_median(series: list[Series]) -> float | None:
    """The median over replicas at the first x any series measured: where reference lines start."""
    for line in series:
        finite = np.isfinite(line.y).any(axis=1)
        if finite.any():
            return float(np.nanmedian(line.y[np.argmax(finite)]))
    return None


def judged(series: list[Series], judge: Callable[[LineFit], Assessment]) -> list[tuple[str, Assessment]]:
    """Each series' assessment: the judge's verdict on its fit (naming the range fitted), or not enough range."""
    result = []
    for line in series:
        if line.fit is None:
            result.append((line.label, Assessment(Verdict.NOT_ENOUGH_RANGE, line.problem or "no fit")))
            continue
        used = line.x[np.isfinite(line.y).any(axis=1)]
        assessment = judge(line.fit)
        span = f" (fitted over {line.axis} = {used.min():g} to {used.max():g})"
        result.append((line.label, replace(assessment, reason=assessment.reason + span)))
    return result


def fit_numbers(series: list[Series], what: str, symbol: str = "a") -> list[str]:
    """One line per series: the fitted slope with its interval, or why there is none."""
    lines = []
    for line in series:
        if line.fit is None:
            lines.append(f"{what}, {line.label}: no fit ({line.problem})")
        else:
            over = (f" (95% t interval over {line.fit.replicas} replicas, {line.fit.points} points)"
                    if line.fit.has_interval else "")
            lines.append(f"{what}, {line.label}: {line.fit.text(symbol)}{over}")
    return lines


def decide(series: list[Series], assessed: list[tuple[str, Assessment]]) -> Assessment:
    """One verdict from the series' own: at the largest width measured when the series differ in m
    (the smaller widths are stated as context), else the worst over all series (``combine``)."""
    widths = [line.selection.get(WIDTH_AXIS) for line in series]
    measured = [w for w, (_, a) in zip(widths, assessed) if w is not None and a.verdict not in UNMEASURED]
    if None in widths or len(set(widths)) < 2 or not measured:
        return combine(assessed)
    top = max(measured)
    decisive = [pair for w, pair in zip(widths, assessed) if w == top]
    smaller = [pair for w, pair in zip(widths, assessed) if w != top]
    return with_regime(decisive, smaller, f"at the largest width measured, m = {top:g}")


GROWTH_FACTOR = 2.0
"""The most an exponential factor may multiply a polynomial quantity over the measured range."""


def polynomial_not_exponential(series: list[Series], axis: str, *, inverse: bool = False) -> list[tuple[str, Assessment]]:
    """Judge each series' growth in ``axis``: polynomial (Theorems 1–2's steps in L or n) or exponential.

    ln y = a + b ln x + r x is fitted per replica (``fit_growth``): r is the exponential constant net of
    any power of x. Supported when the whole interval of r keeps the exponential factor
    e^{r (x_max − x_min)} over the measured range below ``GROWTH_FACTOR``, contradicted when the
    whole interval puts it above. ``inverse`` judges a quantity ∝ 1/T (a speed): its exponential
    constant must then stay above −ln(GROWTH_FACTOR)/(x_max − x_min).
    """
    result = []
    for line in series:
        if line.fit is None:
            result.append((line.label, Assessment(Verdict.NOT_ENOUGH_RANGE, line.problem or "no fit")))
            continue
        used = line.x[np.isfinite(line.y).any(axis=1)]
        if np.unique(used).size < 4:
            result.append((line.label, Assessment(Verdict.NOT_ENOUGH_RANGE, f"{np.unique(used).size} values of "
                                                  f"{axis} with done points; telling a power from an exponential "
                                                  "needs at least 4")))
            continue
        growth = fit_growth(line.x, line.y)
        span = float(used.max() - used.min())
        constant, low, high = growth.exponential
        bound = float(np.log(GROWTH_FACTOR) / span) * (-1 if inverse else 1)
        assessment = interval_verdict(constant, low, high, growth.replicas, bound, "above" if inverse else "below",
                                      f"the exponential constant r of ln y = a + b ln {axis} + r·{axis} (b = "
                                      f"{growth.power[0]:.3g})")
        result.append((line.label, replace(assessment, reason=assessment.reason + f" (bound: a factor "
                                           f"{GROWTH_FACTOR:g} over {axis} = {used.min():g} to {used.max():g})")))
    return result


def medians(line: Series) -> str:
    """``64: 27, 128: 44, ...``: the median over replicas at each x, for the report's text."""
    with np.errstate(all="ignore"):
        parts = [f"{x:g}: {np.nanmedian(row):.3g}" for x, row in zip(line.x, line.y) if np.isfinite(row).any()]
    return ", ".join(parts)
