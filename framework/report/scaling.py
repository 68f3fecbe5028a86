"""One quantity against one grid axis, fitted and drawn: the building block of the scaling figures.

A quantity measured per grid point (the minimum PL ratio, the final ‖D'‖_0, ...) is split into
series, one per combination of the scanned axes other than the one on the x axis; each series
is drawn as the median over replicas with a min–max band, fitted as a power law (or an
exponential) with a bootstrap interval over replicas, and judged against the paper's bound.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import xarray as xr
from matplotlib.axes import Axes

from framework.report.fits import LineFit, fit_exponential, fit_power_law
from framework.report.plotting import color, finish, median_band
from framework.report.verdicts import Assessment, Verdict, range_problem
from framework.report.view import WIDTH_AXIS, StoreView

MAX_SERIES = 8


@dataclass(frozen=True)
class Series:
    """One line of a scaling figure: its label, x values, replicas and fit (None: too little range)."""

    label: str
    axis: str
    x: np.ndarray
    y: np.ndarray
    fit: LineFit | None
    problem: str | None


def series_of(view: StoreView, values: xr.DataArray, axis: str, *, model: str = "power",
              others: list[str] | None = None) -> tuple[list[Series], list[str]]:
    """Split ``values`` (dims ⊆ grid dims) into series along ``axis``, each fitted; and notes.

    ``model`` is ``"power"`` (log-log) or ``"exponential"`` (log y against x). Series beyond
    ``MAX_SERIES`` are left out and a note says so.
    """
    fitter = fit_power_law if model == "power" else fit_exponential
    dims = [d for d in (others if others is not None else view.scanned) if d != axis and d in values.dims]
    selections = list(view.combinations(dims))
    notes = []
    if len(selections) > MAX_SERIES:
        notes.append(f"{len(selections) - MAX_SERIES} of {len(selections)} series left out of the figure "
                     f"(only the first {MAX_SERIES} are drawn and fitted)")
        selections = selections[:MAX_SERIES]
    x = np.asarray(values[axis].values, dtype=float)
    result = []
    for selection in selections:
        y = view.replicas(values.sel(selection), axis)
        problem = range_problem(x, y, axis)
        fit = None if problem else fitter(x, y)
        result.append(Series(view.label(selection) or "all points", axis, x, y, fit, problem))
    return result, notes


def draw(ax: Axes, series: list[Series], *, symbol: str = "a", model: str = "power") -> None:
    """Each series as median and band, its fitted line dashed, its fit in the legend."""
    for index, line in enumerate(series):
        colour = color(index)
        label = line.label if line.fit is None else f"{line.label}: {line.fit.text(symbol)}"
        if not median_band(ax, line.x, line.y, label, colour):
            continue
        if line.fit is not None:
            grid = np.linspace(np.nanmin(line.x), np.nanmax(line.x), 50)
            u = np.log(grid) if model == "power" else grid
            ax.plot(grid, np.exp(line.fit.intercept + line.fit.slope * u), color=colour, linestyle="--",
                    linewidth=0.9)


def width_axes(ax: Axes, view: StoreView, ylabel: str) -> None:
    """Finish a panel whose x axis is the width: log-log, ticks at the grid's widths."""
    finish(ax, "width m (neurons)", ylabel, logx=True, logy=True, xticks=view.ds[WIDTH_AXIS].values)


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
        result.append((line.label, Assessment(assessment.verdict, assessment.reason + span)))
    return result


def fit_numbers(series: list[Series], what: str, symbol: str = "a") -> list[str]:
    """One line per series: the fitted slope with its interval, or why there is none."""
    lines = []
    for line in series:
        if line.fit is None:
            lines.append(f"{what}, {line.label}: no fit ({line.problem})")
        else:
            lines.append(f"{what}, {line.label}: {line.fit.text(symbol)} (95% bootstrap interval over "
                         f"{line.fit.replicas} replica(s), {line.fit.points} points)")
    return lines


def medians(line: Series) -> str:
    """``64: 27, 128: 44, ...``: the median over replicas at each x, for the report's text."""
    with np.errstate(all="ignore"):
        parts = [f"{x:g}: {np.nanmedian(row):.3g}" for x, row in zip(line.x, line.y) if np.isfinite(row).any()]
    return ", ".join(parts)
