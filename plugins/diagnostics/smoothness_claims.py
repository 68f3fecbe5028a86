"""The report's claim on the variables of ``semi_smoothness``: Theorem 4.

f(W + W') ≤ f(W) + ⟨∇f(W), W'⟩ + poly(ϱ) m^{1/3} √f(W) ‖W'‖_2 + poly(ρ) m ‖W'‖_2² for
‖W'‖_2 ≤ τ0/√m: the remainder over the two terms of the bound stays below a constant that does
not grow with m, tested as an exponent in m at most 0.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from dataclasses import dataclass

import numpy as np
import xarray as xr

from overparam import Assessment, Claim, StoreView, Verdict
from overparam.claims import (
    ReferenceLine, Series, WIDTH_AXIS, color, decide, draw_series, exponent_verdict, finish, fit_numbers, judged,
    scaling_axes, series_of,
)

if TYPE_CHECKING:  # matplotlib is imported where a figure is drawn: `overparam show` draws none
    from matplotlib.axes import Axes

TERMS = ("semi_smoothness_gap", "semi_smoothness_norm", "semi_smoothness_sqrt_f_norm", "semi_smoothness_m_norm2")
RATIO = "remainder / (m^(1/3)√f‖W'‖ + m‖W'‖²)"


@dataclass(frozen=True)
class SemiSmoothnessFit:
    """Theorem 4's two sides at every probed W': ‖W'‖_2 (``norm``), the remainder (``gap``) and the
    first-order term m^{1/3}√f‖W'‖; the remainder over the bound's two terms, largest over training
    (``ratio``); and that ratio's power laws in m with the notes on the series left out (``by_m``
    None: the grid has no numeric width axis)."""

    norm: xr.DataArray
    gap: xr.DataArray
    first_order: xr.DataArray
    ratio: xr.DataArray
    by_m: list[Series] | None
    by_m_notes: list[str]


class SemiSmoothness(Claim[SemiSmoothnessFit]):
    """Theorem 4's two sides against ‖W'‖_2, and the remainder over its bound against m."""

    name = "semi_smoothness"
    title = "The loss is semi-smooth near the trajectory"
    paper_ref = "Theorem 4"
    statement = ("f(W + W') ≤ f(W) + ⟨∇f(W), W'⟩ + poly(ϱ) m^{1/3} √f(W) ‖W'‖_2 + poly(ρ) m ‖W'‖_2² for ‖W'‖_2 ≤ "
                 "τ0/√m: the remainder divided by m^{1/3}√f‖W'‖ + m‖W'‖² stays below a constant that does not grow "
                 "with m.")
    needs = TERMS
    figure = "semi_smoothness"
    figure_title = "Theorem 4: remainder f(W+W') − f(W) − ⟨∇f, W'⟩ beside its bound's two terms"
    order = 100

    def fit(self, view: StoreView) -> SemiSmoothnessFit:
        ds = view.ds
        norm = ds["semi_smoothness_norm"]
        m = ds["semi_smoothness_m_norm2"] / norm**2
        first_order = m ** (1 / 3) * ds["semi_smoothness_sqrt_f_norm"]
        gap = ds["semi_smoothness_gap"]
        ratio = (gap / (first_order + ds["semi_smoothness_m_norm2"])).max("step")
        by_m, notes = series_of(view, ratio, WIDTH_AXIS) if WIDTH_AXIS in view.numeric_axes else (None, [])
        return SemiSmoothnessFit(norm, gap, first_order, ratio, by_m, notes)

    def panel_count(self, view: StoreView, fitted: SemiSmoothnessFit) -> int:
        return 1 if fitted.by_m is None else 2

    def draw(self, axes: list[Axes], view: StoreView, fitted: SemiSmoothnessFit) -> None:
        norm = fitted.norm
        for label, values, marker, colour in (
                ("|remainder| (left side)", np.abs(fitted.gap), "o", color(0)),
                (r"$m^{1/3}\sqrt{f}\,\|W'\|_2$", fitted.first_order, "^", color(1)),
                (r"$m\,\|W'\|_2^2$", view.ds["semi_smoothness_m_norm2"], "s", color(2))):
            x, y = xr.broadcast(norm, values)
            keep = np.isfinite(x.values) & np.isfinite(y.values) & (y.values > 0)
            axes[0].scatter(x.values[keep], y.values[keep], s=10, marker=marker, color=colour, alpha=0.6, label=label)
        finish(axes[0], r"$\|W'\|_2 = \tau/\sqrt{m}$", "value (loss units)", logx=True, logy=True)
        if fitted.by_m is not None:
            draw_series(axes[1], fitted.by_m)
            ReferenceLine(0.0, "judged against: ∝ m^0").draw(axes[1], np.asarray(view.ds[WIDTH_AXIS].values, dtype=float),
                                                          fitted.by_m)
            scaling_axes(axes[1], view, WIDTH_AXIS, r"$\max_t$ remainder / ($m^{1/3}\sqrt{f}\|W'\|_2 + m\|W'\|_2^2$)")

    def numbers(self, view: StoreView, fitted: SemiSmoothnessFit) -> list[str]:
        values = fitted.ratio.values[np.isfinite(fitted.ratio.values)]
        lines = [f"max over t of {RATIO}: largest {values.max():.3g}, median {np.median(values):.3g}"] if values.size else []
        if fitted.by_m is not None:
            lines += fit_numbers(fitted.by_m, "exponent of the ratio in m")
        return lines

    def notes(self, view: StoreView, fitted: SemiSmoothnessFit) -> list[str]:
        if fitted.by_m is None:
            return []
        return [*fitted.by_m_notes, "points with a negative remainder satisfy the bound trivially and are left out of "
                "the log-log fit"]

    def verdict(self, view: StoreView, fitted: SemiSmoothnessFit) -> Assessment:
        if fitted.by_m is None:
            return Assessment(Verdict.NOT_ENOUGH_RANGE, "the constants are unknown: testing that the ratio does not "
                              f"grow needs a width axis `{WIDTH_AXIS}`")
        return decide(fitted.by_m, judged(fitted.by_m, lambda f: exponent_verdict(
            f, 0.0, "below", f"the exponent in m of {RATIO}")))
