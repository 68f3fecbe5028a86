"""Matplotlib plumbing shared by the report's figures: panels, median-and-band lines, saving.

Figures are built on ``matplotlib.figure.Figure`` with the Agg canvas directly, never through
pyplot, so making a report neither needs a display nor changes the backend of a user's session.
Every figure is saved twice beside the report: PNG (for report.md and quick viewing) and SVG
(for the HTML page and for print).
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

PANEL_SIZE = (4.6, 3.5)
MAX_COLUMNS = 3
DPI = 100
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22")


def panels(count: int, title: str) -> tuple[Figure, list[Axes]]:
    """A figure of ``count`` panels in rows of at most three, with a title."""
    columns = min(count, MAX_COLUMNS)
    rows = -(-count // columns)
    figure = Figure(figsize=(PANEL_SIZE[0] * columns, PANEL_SIZE[1] * rows + 0.5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, columns, squeeze=False).ravel().tolist()
    for extra in axes[count:]:
        extra.set_visible(False)
    figure.suptitle(title, fontsize=11)
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


def finish(ax: Axes, xlabel: str, ylabel: str, *, logx: bool = False, logy: bool = False,
           legend_title: str | None = None) -> None:
    """Label the axes, set log scales, add a grid and (when there are labelled lines) a legend."""
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel(ylabel, fontsize=9)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.tick_params(labelsize=8)
    ax.grid(True, which="major", alpha=0.3)
    handles, _ = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize=7, title=legend_title, title_fontsize=7, framealpha=0.8)


def save(figure: Figure, out: Path, stem: str) -> str:
    """Write ``stem.png`` and ``stem.svg`` into ``out``; returns the PNG's file name."""
    out.mkdir(parents=True, exist_ok=True)
    figure.savefig(out / f"{stem}.png", dpi=DPI)
    figure.savefig(out / f"{stem}.svg")
    return f"{stem}.png"
