"""The report's claims on the variables of ``chain_norms``: (4.4) and (4.6), in one figure, ``chains``.

(4.4): ‖W D_{i,l1} W ⋯ D_{i,l2} W‖_2 ≤ O(L³) instead of growing as √2^length; Fact 2.5 and
(4.6): ‖B‖_2 ≈ √(m/d) and the chains behind it are O(1)-bounded, so the B chains grow at most
as √m.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import math
from dataclasses import dataclass

import numpy as np

from overparam import Assessment, Claim, StoreView
from overparam.claims import (
    DEPTH_AXIS, MAX_SERIES, ReferenceLine, ScalingLawClaim, ScalingPanel, Series, color, decide, draw_series,
    exponent_verdict, finish, judged, median_band, series_of,
)

if TYPE_CHECKING:  # matplotlib is imported where a figure is drawn: `overparam show` draws none
    from matplotlib.axes import Axes

NAIVE_GROWTH = math.sqrt(2)
CHAINS_FIGURE = "chains"
CHAINS_TITLE = "(4.4)–(4.6): spectral norms of chains W D ⋯ D W, max over i, l2, t"
LENGTH_LABEL = r"chain length $l_1 - l_2 + 1$ (layers)"


@dataclass(frozen=True)
class ChainsFit:
    """The W-chain norms against the chain length, one fitted exponential per line, the notes on the
    lines left out, and the B-chain norms against the length (None: the store has none)."""

    series: list[Series]
    notes: list[str]
    b_series: list[Series] | None


class ChainsDoNotBlowUp(Claim[ChainsFit]):
    """W-chain norms against the chain length, log y, fitted as an exponential: √2 per layer or less? (4.4)."""

    name = "chains_do_not_blow_up"
    title = "Chains of ReLU layers do not blow up exponentially"
    paper_ref = "(4.4)"
    statement = ("‖W D_{i,l1} W ⋯ D_{i,l2} W‖_2 ≤ O(L³) (conjectured O(1)), although ‖DW‖_2 ≈ √2 would let a product "
                 "of spectral norms grow as √2^length: the fitted growth factor per layer e^r should stay below √2.")
    needs = ("chain_norm_w",)
    uses = ("chain_norm_b",)
    figure = CHAINS_FIGURE
    figure_title = CHAINS_TITLE
    order = 90

    def fit(self, view: StoreView) -> ChainsFit:
        dims = sorted(view.scanned, key=lambda d: d != DEPTH_AXIS)
        series, notes = series_of(view, view.ds["chain_norm_w"].max("step"), "length", model="exponential",
                                  others=dims)
        b_series = (series_of(view, view.ds["chain_norm_b"].max("step"), "length", model="power", others=dims)[0]
                    if view.has("chain_norm_b") else None)
        return ChainsFit(series, notes, b_series)

    def panel_count(self, view: StoreView, fitted: ChainsFit) -> int:
        return 1 if fitted.b_series is None else 2

    def draw(self, axes: list[Axes], view: StoreView, fitted: ChainsFit) -> None:
        series = fitted.series
        draw_series(axes[0], series, symbol="r", model="exponential")
        lengths = np.asarray(view.ds["length"].values, dtype=float)
        anchor = next((float(np.nanmedian(s.y[0])) for s in series if np.isfinite(s.y[0]).any()), None)
        if anchor is not None:
            axes[0].plot(lengths, anchor * NAIVE_GROWTH ** (lengths - lengths[0]), color="0.5", linestyle=":",
                         label="naive: √2 per layer")
        finish(axes[0], LENGTH_LABEL, r"$\|W D_{l_1} W \cdots D_{l_2} W\|_2$", logy=True)
        if fitted.b_series is not None:
            for index, line in enumerate(fitted.b_series[:MAX_SERIES]):
                median_band(axes[1], line.x, line.y, line.label, color(index))
            finish(axes[1], LENGTH_LABEL, r"$\|B D_{l_1} W \cdots D_{l_2} W\|_2$", logy=True)

    def numbers(self, view: StoreView, fitted: ChainsFit) -> list[str]:
        return [f"W chains, {s.label}: growth factor per layer e^r = {math.exp(s.fit.slope):.3g} "
                f"[{math.exp(s.fit.low):.3g}, {math.exp(s.fit.high):.3g}]" for s in fitted.series if s.fit]

    def notes(self, view: StoreView, fitted: ChainsFit) -> list[str]:
        return list(fitted.notes)

    def verdict(self, view: StoreView, fitted: ChainsFit) -> Assessment:
        return decide(fitted.series, judged(fitted.series, lambda f: exponent_verdict(
            f, math.log(NAIVE_GROWTH), "below", "the exponential rate r of the W chains per layer (ln √2 = 0.347)")))


class BackwardChainsScale(ScalingLawClaim):
    """The largest B-chain norm against m, log-log, beside √m: (4.6) and Fact 2.5."""

    name = "backward_chains_scale"
    title = "Backward chains scale as √(m/d)"
    paper_ref = "(4.6), Fact 2.5"
    statement = ("‖B‖_2 ≈ √(m/d) and the chains behind it are O(1)-bounded, so ‖B D ⋯ D W‖_2 grows at most as √m: "
                 "exponent in m at most 1/2.")
    figure = CHAINS_FIGURE
    figure_title = CHAINS_TITLE
    order = 91
    panels = (
        ScalingPanel("chain_norm_b", reduce="max", over=("step", "length"), name="max ‖B D ⋯ W‖_2", judged=True,
                     listed="fit and medians", ylabel=r"$\max_{\rm length}\ \|B D \cdots D W\|_2$",
                     references=(ReferenceLine(0.5, "∝ √m"),)),
    )
    bound = 0.5
    allowed = "below"
