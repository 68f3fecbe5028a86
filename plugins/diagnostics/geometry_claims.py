"""The report's claims on the variables of ``forward_norms``, ``fresh_randomness`` and
``separability``: §4's (4.1)–(4.3), drawn together against the layer in one figure, ``layers``.

(4.1) 1/2 ≤ ‖h_{i,l}‖, ‖g_{i,l}‖ ≤ O(L); (4.2) fresh randomness ‖(I − U_{l−1}U_{l−1}ᵀ)h_{i,l}‖ ≥
Ω̃(1/L²); (4.3) the fresh parts stay (δ/2)-separable.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from dataclasses import dataclass

import numpy as np
import xarray as xr

from overparam import Assessment, Claim, StoreView, Verdict
from overparam.claims import (
    DEPTH_AXIS, LayerProfiles, LayerThresholdClaim, ReferenceLine, Series, by_layer, decide, draw_series,
    exponent_verdict, finish, fit_numbers, judged, scaling_axes, series_of, series_selections,
)

if TYPE_CHECKING:  # matplotlib is imported where a figure is drawn: `overparam show` draws none
    from matplotlib.axes import Axes

HALF = 0.5
LAYERS_FIGURE = "layers"
LAYERS_TITLE = "§4 at every layer: worst value over training"
PAPER_HALF = "paper's lower bound 1/2"


class ForwardNormsBounded(LayerThresholdClaim):
    """The smallest ‖h_{i,l}‖ and ‖g_{i,l}‖ over training at every layer, against (4.1)'s 1/2."""

    name = "forward_norms_bounded"
    title = "Forward norms neither explode nor vanish"
    paper_ref = "(4.1)"
    statement = ("1/2 ≤ ‖h_{i,l}‖, ‖g_{i,l}‖ ≤ O(L) at every layer, at initialization and (by (5.1)) within the "
                 "training radius.")
    figure = LAYERS_FIGURE
    figure_title = LAYERS_TITLE
    order = 80
    profile = "h_norm_min"
    ceiling = "h_norm_max"
    judged = ("h_norm_min", "g_norm_min")
    bound = HALF
    bound_label = PAPER_HALF
    ylabel = r"$\min_i$ (solid), $\max_i$ (dotted) of $\|h_{i,l}\|_2$"
    what = "min over i, l, t of ‖h‖ and ‖g‖"

    def numbers(self, view: StoreView, fitted: LayerProfiles) -> list[str]:
        if not view.has("h_norm_max"):
            return []
        highest = float(view.ds["h_norm_max"].max())
        return [f"largest ‖h_{{i,l}}‖ over every done point and step: {highest:.3g} (the O(L) upper bound has an "
                "unknown constant; a scan over L tests its growth)"]


@dataclass(frozen=True)
class FreshFit:
    """The fresh randomness against the layer and against L: the grid points drawn as lines
    (``selections``) with the notes on those left out, the lowest value per grid point over steps
    and layers, and its fitted power laws in L (None: the grid has no numeric ``L`` axis)."""

    selections: list[dict[str, object]]
    notes: list[str]
    lowest: xr.DataArray
    series: list[Series] | None


class FreshRandomness(Claim[FreshFit]):
    """The fresh part of each hidden state against the layer, and its smallest value against L (4.2)."""

    name = "fresh_randomness"
    title = "Every layer brings fresh randomness"
    paper_ref = "(4.2)"
    statement = ("‖(I − U_{l−1}U_{l−1}ᵀ)h_{i,l}‖ ≥ Ω̃(1/L²): the part of each hidden state outside the span of all "
                 "earlier ones decays at most as L⁻² with the depth (exponent in L at least −2).")
    needs = ("fresh_randomness",)
    figure = LAYERS_FIGURE
    figure_title = LAYERS_TITLE
    order = 81

    def fit(self, view: StoreView) -> FreshFit:
        selections, notes = series_selections(view)
        lowest = view.ds["fresh_randomness"].min(("step", "layer"))
        series = series_of(view, lowest, DEPTH_AXIS)[0] if DEPTH_AXIS in view.numeric_axes else None
        return FreshFit(selections, notes, lowest, series)

    def panel_count(self, view: StoreView, fitted: FreshFit) -> int:
        return 1 if fitted.series is None else 2

    def draw(self, axes: list[Axes], view: StoreView, fitted: FreshFit) -> None:
        by_layer(axes[0], view, view.ds["fresh_randomness"].min("step"), fitted.selections)
        depths = sorted({s[DEPTH_AXIS] for s in fitted.selections if DEPTH_AXIS in s}) or [view.ds.sizes["layer"]]
        for depth in depths:
            axes[0].axhline(1 / depth**2, color="k", linestyle="--", linewidth=0.8,
                            label="paper: 1/L² (constant 1)" if depth == depths[0] else "_nolegend_")
        finish(axes[0], "layer l (1..L)", r"$\min_i\ \|(I - U_{l-1}U_{l-1}^\top)\, h_{i,l}\|_2$", logy=True)
        if fitted.series is not None:
            draw_series(axes[1], fitted.series)
            x = np.asarray(view.ds[DEPTH_AXIS].values, dtype=float)
            ReferenceLine(-2.0, "paper's bound: ∝ L^(−2) (through first point)").draw(axes[1], x, fitted.series)
            scaling_axes(axes[1], view, DEPTH_AXIS, r"$\min_{i,l,t}$ fresh randomness")

    def numbers(self, view: StoreView, fitted: FreshFit) -> list[str]:
        if fitted.series is not None:
            return fit_numbers(fitted.series, "exponent of min fresh randomness in L")
        values = fitted.lowest.values[np.isfinite(fitted.lowest.values)]
        return [f"min over i, l, t of the fresh randomness: {values.min():.3g} "
                f"(median over points {np.median(values):.3g})"]

    def notes(self, view: StoreView, fitted: FreshFit) -> list[str]:
        return list(fitted.notes)

    def verdict(self, view: StoreView, fitted: FreshFit) -> Assessment:
        if fitted.series is None:
            return Assessment(Verdict.NOT_ENOUGH_RANGE, "the bound is Ω̃(1/L²) with an unknown constant: testing it "
                              f"needs a scan over `{DEPTH_AXIS}` with at least 3 values")
        return decide(fitted.series, judged(fitted.series, lambda f: exponent_verdict(
            f, -2.0, "above", "the exponent of the fresh randomness in L")))


class SeparabilitySurvives(LayerThresholdClaim):
    """The smallest separability over pairs, relative to δ, at every layer, against (4.3)'s 1/2."""

    name = "separability_survives"
    title = "Separability survives every layer"
    paper_ref = "(4.3)"
    statement = ("(I − U_l U_lᵀ)h_{i,l+1} and (I − U_l U_lᵀ)h_{j,l+1} are (δ/2)-separable for all i ≠ j: the "
                 "separability divided by the data's δ stays at least 1/2 (needs m > n·L for the projections to "
                 "leave room).")
    figure = LAYERS_FIGURE
    figure_title = LAYERS_TITLE
    order = 82
    profile = "separability_ratio"
    bound = HALF
    bound_label = PAPER_HALF
    ylabel = r"separability / $\delta$ (min over pairs)"
    logy = False
    what = "min over pairs, layers and steps of separability/δ"
