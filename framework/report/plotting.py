"""Matplotlib plumbing shared by the report's figures: panels, median-and-band lines, saving.

Figures are built on ``matplotlib.figure.Figure`` with the Agg canvas directly, never through
pyplot, so making a report neither needs a display nor changes the backend of a user's session.
Every figure is saved twice beside the report: PNG (for report.md and quick viewing) and SVG
(for the HTML page and for print).
"""
from __future__ import annotations

import math
import textwrap
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # matplotlib is imported where a figure is drawn: `overparam show` draws none
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

PANEL_SIZE = (4.6, 3.6)
MIN_WIDTH = 6.0
TITLE_CHARACTERS_PER_INCH = 13
MAX_COLUMNS = 3
DPI = 100
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22")


def panels(count: int, title: str) -> tuple[Figure, list[Axes]]:
    """A figure of ``count`` panels in rows of at most three, with a title."""
    columns = min(count, MAX_COLUMNS)
    rows = -(-count // columns)
    width = max(MIN_WIDTH, PANEL_SIZE[0] * columns)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, PANEL_SIZE[1] * rows + 0.5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, columns, squeeze=False).ravel().tolist()
    for extra in axes[count:]:
        extra.set_visible(False)
    figure.suptitle(textwrap.fill(title, int(width * TITLE_CHARACTERS_PER_INCH)), fontsize=10)
    return figure, axes[:count]


def color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def median_band(ax: Axes, x: np.ndarray, y: np.ndarray, label: str, colour: str, *, marker: str | None = "o",
                linestyle: str = "-") -> bool:
    """Plot the median over replicas of ``y`` (``[n_x, n_replicas]``) with a min–max band.

    Returns whether anything was drawn (False when every value is NaN).
    """
    y = np.asarray(y, dtype=float)
    if y.ndim == 1:
        y = y[:, None]
    rows = np.isfinite(y).any(axis=1)
    if not rows.any():
        return False
    x, y = np.asarray(x, dtype=float)[rows], y[rows]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        middle, low, high = np.nanmedian(y, axis=1), np.nanmin(y, axis=1), np.nanmax(y, axis=1)
    ax.plot(x, middle, color=colour, marker=marker, markersize=3.5, linestyle=linestyle, linewidth=1.4, label=label)
    if y.shape[1] > 1:
        ax.fill_between(x, low, high, color=colour, alpha=0.18, linewidth=0)
    return True


def _plain(value: float, _position: object = None) -> str:
    return f"{value:g}"


def _mantissa_two_five(value: float, _position: object = None) -> str:
    """Label the minor ticks 2·10^k and 5·10^k only, so narrow log ranges still carry numbers."""
    if value <= 0:
        return ""
    mantissa = round(value / 10 ** math.floor(math.log10(value)), 6)
    return f"{value:g}" if mantissa in (2.0, 5.0) else ""


def _log_labels(axis, ticks: np.ndarray | None) -> None:
    """Readable labels on a log axis: the given ticks (grid values) or decades plus 2 and 5."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullFormatter, NullLocator

    if ticks is not None:
        axis.set_major_locator(FixedLocator(np.asarray(ticks, dtype=float)))
        axis.set_major_formatter(FuncFormatter(_plain))
        axis.set_minor_locator(NullLocator())
        return
    axis.set_major_formatter(FuncFormatter(_plain))
    low, high = sorted(axis.get_view_interval())
    span = high / low if low > 0 else math.inf
    if span < 10:  # less than a decade: evenly spaced round numbers, as on a linear axis
        axis.set_major_locator(FixedLocator(MaxNLocator(5).tick_values(low, high)))
        axis.set_minor_formatter(NullFormatter())
    else:
        axis.set_minor_formatter(FuncFormatter(_mantissa_two_five) if span < 100 else NullFormatter())


def finish(ax: Axes, xlabel: str, ylabel: str, *, logx: bool = False, logy: bool = False,
           legend_title: str | None = None, xticks: np.ndarray | None = None) -> None:
    """Label the axes, set log scales with readable ticks, add a grid and a legend of labelled lines.

    ``xticks``: put the x ticks at these values (the grid's widths, say) and label them plainly.
    """
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel(ylabel, fontsize=9)
    if logx:
        ax.set_xscale("log")
        _log_labels(ax.xaxis, xticks)
    elif xticks is not None:
        ax.set_xticks(np.asarray(xticks, dtype=float))
    if logy:
        ax.set_yscale("log")
        _log_labels(ax.yaxis, None)
    ax.tick_params(labelsize=8)
    ax.tick_params(which="minor", labelsize=7)
    ax.grid(True, which="major", alpha=0.3)
    handles, _ = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize=7, title=legend_title, title_fontsize=7, framealpha=0.8)


def save(figure: Figure, out: Path, stem: str) -> str:
    """Write ``stem.png`` and ``stem.svg`` into ``out``; returns the PNG's file name."""
    out.mkdir(parents=True, exist_ok=True)
    figure.savefig(out / f"{stem}.png", dpi=DPI)
    figure.set_layout_engine("none")  # keep the layout just computed: the SVG needs no second pass
    figure.savefig(out / f"{stem}.svg")
    return f"{stem}.png"
