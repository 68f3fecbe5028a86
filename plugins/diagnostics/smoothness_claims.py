"""The report's claim on the variables of ``semi_smoothness``: Theorem 4.

f(W + W') ≤ f(W) + ⟨∇f(W), W'⟩ + poly(ϱ) m^{1/3} √f(W) ‖W'‖_2 + poly(ρ) m ‖W'‖_2² for
‖W'‖_2 ≤ τ0/√m: the remainder over the two terms of the bound stays below a constant that does
not grow with m, tested as an exponent in m at most 0.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from framework import (
    WIDTH_AXIS,
    Assessment,
    Claim,
    ReferenceLine,
    StoreView,
    Verdict,
    color,
    decide,
    draw_series,
    exponent_verdict,
    finish,
    fit_numbers,
    judged,
    scaling_axes,
    series_of,
)

TERMS = ("semi_smoothness_gap", "semi_smoothness_norm", "semi_smoothness_sqrt_f_norm", "semi_smoothness_m_norm2")
RATIO = "remainder / (m^(1/3)√f‖W'‖ + m‖W'‖²)"


class SemiSmoothness(Claim):
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

    def fit(self, view: StoreView) -> dict[str, Any]:
        ds = view.ds
        norm = ds["semi_smoothness_norm"]
        m = ds["semi_smoothness_m_norm2"] / norm**2
        first_order = m ** (1 / 3) * ds["semi_smoothness_sqrt_f_norm"]
        gap = ds["semi_smoothness_gap"]
        ratio = (gap / (first_order + ds["semi_smoothness_m_norm2"])).max("step")
        by_m = series_of(view, ratio, WIDTH_AXIS) if WIDTH_AXIS in view.numeric_axes else None
        return {"norm": norm, "gap": gap, "first_order": first_order, "ratio": ratio, "by_m": by_m}

    def panel_count(self, view: StoreView, fitted: dict[str, Any]) -> int:
        return 1 if fitted["by_m"] is None else 2

    def draw(self, axes: list[Any], view: StoreView, fitted: dict[str, Any]) -> None:
        norm = fitted["norm"]
        for label, values, marker, colour in (
                ("|remainder| (left side)", np.abs(fitted["gap"]), "o", color(0)),
                (r"$m^{1/3}\sqrt{f}\,\|W'\|_2$", fitted["first_order"], "^", color(1)),
                (r"$m\,\|W'\|_2^2$", view.ds["semi_smoothness_m_norm2"], "s", color(2))):
            x, y = xr.broadcast(norm, values)
            keep = np.isfinite(x.values) & np.isfinite(y.values) & (y.values > 0)
            axes[0].scatter(x.values[keep], y.values[keep], s=10, marker=marker, color=colour, alpha=0.6, label=label)
        finish(axes[0], r"$\|W'\|_2 = \tau/\sqrt{m}$", "value (loss units)", logx=True, logy=True)
        if fitted["by_m"] is not None:
            draw_series(axes[1], fitted["by_m"][0])
            ReferenceLine(0.0, "judged against: ∝ m^0").draw(axes[1], np.asarray(view.ds[WIDTH_AXIS].values, dtype=float),
                                                          fitted["by_m"][0])
            scaling_axes(axes[1], view, WIDTH_AXIS, r"$\max_t$ remainder / ($m^{1/3}\sqrt{f}\|W'\|_2 + m\|W'\|_2^2$)")

    def numbers(self, view: StoreView, fitted: dict[str, Any]) -> list[str]:
        values = fitted["ratio"].values[np.isfinite(fitted["ratio"].values)]
        lines = [f"max over t of {RATIO}: largest {values.max():.3g}, median {np.median(values):.3g}"] if values.size else []
        if fitted["by_m"] is not None:
            lines += fit_numbers(fitted["by_m"][0], "exponent of the ratio in m")
        return lines

    def notes(self, view: StoreView, fitted: dict[str, Any]) -> list[str]:
        if fitted["by_m"] is None:
            return []
        return [*fitted["by_m"][1], "points with a negative remainder satisfy the bound trivially and are left out of "
                "the log-log fit"]

    def verdict(self, view: StoreView, fitted: dict[str, Any]) -> Assessment:
        if fitted["by_m"] is None:
            return Assessment(Verdict.NOT_ENOUGH_RANGE, "the constants are unknown: testing that the ratio does not "
                              f"grow needs a width axis `{WIDTH_AXIS}`")
        return decide(fitted["by_m"][0], judged(fitted["by_m"][0], lambda f: exponent_verdict(
            f, 0.0, "below", f"the exponent in m of {RATIO}")))
