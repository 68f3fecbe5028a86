"""Per-layer profiles and threshold claims: §4's bounds that hold at every layer l = 1..L.

(4.1) says 1/2 ≤ ‖h_{i,l}‖ and (4.3) that the fresh parts stay δ/2 apart at every layer: a bound on a
quantity, not an exponent. ``LayerThresholdClaim`` draws the quantity's worst value over
training against the layer, one line per combination of the scanned axes (L first), with the
bound as a dashed line, and judges the worst value over steps and layers with
``threshold_verdict`` at the largest width, since the theorems hold for m large enough. Its fit,
``LayerProfiles``, is which lines to draw; the verdict reads the store itself.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TYPE_CHECKING

import numpy as np
import xarray as xr

from framework.contract.claim import Claim
from framework.report.fits import MIN_REPLICAS
from framework.report.plotting import color, finish, median_band
from framework.report.scaling import MAX_SERIES
from framework.contract.verdicts import Assessment, Verdict
from framework.contract.store_view import DEPTH_AXIS, WIDTH_AXIS, StoreView

if TYPE_CHECKING:  # matplotlib is imported where a figure is drawn: `overparam show` draws none
    from matplotlib.axes import Axes

LAYER = "layer"


def threshold_verdict(view: StoreView, worst: xr.DataArray, bound: float, what: str) -> Assessment:
    """Judge ``worst`` (one value per grid point, the lowest over steps and layers) against ≥ bound.

    The theorems hold for m large enough, so the replicas at the largest width decide, through
    the range of their worst values: supported when every replica is at or above the bound,
    contradicted when every one is below, inconclusive when they straddle it; fewer than
    ``MIN_REPLICAS`` replicas are not enough. The smaller widths are stated as context: the
    smallest width from which every replica holds is where the regime starts. The judged number
    is the median of the worst values, with their range as its interval.
    """
    finite = worst.notnull()
    if not bool(finite.any()):
        return Assessment(Verdict.NOT_ENOUGH_RANGE, f"no done point measured {what}")
    if WIDTH_AXIS in view.scanned:
        widths = [m for m in view.ds[WIDTH_AXIS].values if bool(finite.sel({WIDTH_AXIS: m}).any())]
        top, where = worst.sel({WIDTH_AXIS: max(widths)}), f"at the largest width m = {max(widths)}"
        failing = [m for m in widths if bool((worst.sel({WIDTH_AXIS: m}) < bound).any())]
    else:
        top, where, failing = worst, "over all points", []
    values = top.values[np.isfinite(top.values)]
    below = int((values < bound).sum())
    text = (f"{what} {where}: {values.size} point(s) from {values.min():.3g} to {values.max():.3g}, {below} below "
            f"{bound:g}")
    if failing:
        holding = [m for m in widths if m > max(failing)]
        text += (f"; some point below {bound:g} at m = {', '.join(map(str, failing))}"
                 + (f", every point holds from m = {min(holding)}" if holding else ""))
    measured = (float(np.median(values)), float(values.min()), float(values.max()))
    if values.size < MIN_REPLICAS:
        return Assessment(Verdict.NOT_ENOUGH_REPLICAS, text + f"; a verdict needs at least {MIN_REPLICAS} replicas",
                          measured)
    if below == 0:
        return Assessment(Verdict.SUPPORTED, text, measured)
    if below == values.size:
        return Assessment(Verdict.CONTRADICTED, text, measured)
    return Assessment(Verdict.INCONCLUSIVE, text, measured)


def series_selections(view: StoreView) -> tuple[list[dict[str, object]], list[str]]:
    """One line per combination of the scanned axes (L first when present), at most MAX_SERIES:
    the last ones in grid order (the longest sequences), where the regime is tested hardest."""
    dims = sorted(view.scanned, key=lambda d: d != DEPTH_AXIS)
    selections = list(view.combinations(dims))
    notes = []
    if len(selections) > MAX_SERIES:
        notes.append(f"only the last {MAX_SERIES} of {len(selections)} series (the largest values of "
                     f"{', '.join(dims)}) are drawn against the layer")
        selections = selections[-MAX_SERIES:]
    return selections, notes


def by_layer(ax: Axes, view: StoreView, values: xr.DataArray, selections: list[dict[str, object]], *,
             linestyle: str = "-", legend: bool = True) -> None:
    """``values`` (grid axes and ``layer``) against the layer: median over replicas, one line per selection."""
    layers = view.ds[LAYER].values
    for index, selection in enumerate(selections):
        label = (view.label(selection) or "all points") if legend else "_nolegend_"
        median_band(ax, layers, view.replicas(values.sel(selection), LAYER), label, color(index), linestyle=linestyle)


def lowest_of(view: StoreView, names: tuple[str, ...]) -> xr.DataArray:
    """The lowest over steps and layers of every named variable the store has, elementwise."""
    present = [view.ds[name].min(("step", LAYER)) for name in names if view.has(name)]
    lowest = present[0]
    for other in present[1:]:
        lowest = np.minimum(lowest, other)
    return lowest


@dataclass(frozen=True)
class LayerProfiles:
    """What a threshold claim draws against the layer: the grid points, one line each (``selections``,
    from ``series_selections``), and the notes on the lines left out."""

    selections: list[dict[str, object]]
    notes: list[str]


class LayerThresholdClaim(Claim[LayerProfiles]):
    """A claim that a per-layer quantity stays at or above ``bound`` at every layer and step.

    Declare ``profile`` (drawn: its minimum over training against the layer), optionally
    ``ceiling`` (drawn dotted: its maximum, for a two-sided bound whose upper constant is
    unknown), ``judged`` (the variables whose lowest value is judged; default the profile),
    ``bound`` with ``bound_label``, ``ylabel``, ``logy`` and ``what`` (the judged quantity in
    words). ``needs`` and ``uses`` follow unless declared.
    """

    profile: str
    ceiling: str | None = None
    judged: tuple[str, ...] = ()
    bound: float = 0.5
    bound_label: str = ""
    ylabel: str = ""
    logy: bool = True
    what: str = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "profile" not in cls.__dict__:
            return
        if not cls.judged:
            cls.judged = (cls.profile,)
        if "needs" not in cls.__dict__:
            cls.needs = (cls.profile,)
        if "uses" not in cls.__dict__:
            extra = ((cls.ceiling,) if cls.ceiling else ()) + cls.judged
            cls.uses = tuple(name for name in dict.fromkeys(extra) if name != cls.profile)

    def fit(self, view: StoreView) -> LayerProfiles:
        selections, notes = series_selections(view)
        return LayerProfiles(selections, notes)

    def draw(self, axes: list[Axes], view: StoreView, fitted: LayerProfiles) -> None:
        ax = axes[0]
        by_layer(ax, view, view.ds[self.profile].min("step"), fitted.selections)
        if self.ceiling and view.has(self.ceiling):
            by_layer(ax, view, view.ds[self.ceiling].max("step"), fitted.selections, linestyle=":", legend=False)
        ax.axhline(self.bound, color="k", linestyle="--", linewidth=1, label=self.bound_label or f"bound {self.bound:g}")
        finish(ax, "layer l (1..L)", self.ylabel or self.profile, logy=self.logy)

    def notes(self, view: StoreView, fitted: LayerProfiles) -> list[str]:
        return list(fitted.notes)

    def verdict(self, view: StoreView, fitted: LayerProfiles) -> Assessment:
        return threshold_verdict(view, lowest_of(view, self.judged), self.bound, self.what or f"min of {self.profile}")
