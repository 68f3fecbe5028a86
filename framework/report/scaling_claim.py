"""The scaling-law claim: a quantity against a grid axis, fitted as a power law, judged by its exponent.

Most of the paper's width claims share one shape: reduce a store variable to one number per
grid point (its maximum over training, its final value, ...), fit it against m with a
t interval over replicas, and compare the exponent with a bound: ‖D'‖_0 ≤ O(m^{2/3})
in (5.1) is "exponent ≤ 2/3", Theorem 3's PL ratio "≥ 0". ``ScalingLawClaim`` is that shape;
a claim declares its panels (the judged quantity first, companions drawn beside it), the
axis, the bound and the side the paper allows, and inherits ``fit`` (a ``ScalingFit``), ``draw``,
``numbers`` and ``verdict``. ``law`` picks the rule: ``power`` (the exponent against ``bound``), ``polynomial``
(a power law fits at least as well as an exponential: growth polynomial, not exponential, in
the axis) or ``none`` (the paper says nothing: the fits are descriptive).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TYPE_CHECKING

import numpy as np
import xarray as xr

from framework.contract.claim import Claim
from framework.contract.reductions import reduce
from framework.report.scaling import (
    Series,
    decide,
    draw_series,
    first_median,
    fit_numbers,
    judged,
    medians,
    polynomial_not_exponential,
    scaling_axes,
    series_of,
)
from framework.contract.verdicts import Assessment, Verdict
from framework.report.verdicts import UNMEASURED, exponent_verdict
from framework.contract.store_view import WIDTH_AXIS, StoreView

if TYPE_CHECKING:  # matplotlib is imported where a figure is drawn: `overparam show` draws none
    from matplotlib.axes import Axes

OPPOSITE = {"below": "above", "above": "below"}


@dataclass(frozen=True)
class ReferenceLine:
    """A guide line y ∝ x^exponent: through the first median when ``anchored`` (the paper's
    scaling, constants unknown), else y = x^exponent itself (a trivial bound such as y = m)."""

    exponent: float
    label: str
    anchored: bool = True

    def draw(self, ax: Axes, x: np.ndarray, series: list[Series]) -> None:
        if not self.anchored:
            ax.plot(x, x**self.exponent, color="0.6", linestyle="-.", label=self.label)
            return
        anchor = first_median(series)
        if anchor is not None:
            ax.plot(x, anchor * (x / x[0]) ** self.exponent, color="0.35", linestyle=":", label=self.label)


@dataclass(frozen=True)
class ScalingPanel:
    """One quantity of a scaling-law claim, one panel of its figure.

    ``variable`` reduced by ``reduce`` (``max``, ``min``, ``final``) over the dimensions ``over``;
    ``name`` is how the text calls it (``max_t ‖D'‖_0``), ``ylabel`` the axis label (default:
    the variable and its units). A ``judged`` panel is the one the verdict reads (the first
    judged panel the store has); ``inverse`` marks one whose exponent bounds the other way (a
    speed per step, ∝ 1/T). ``listed`` says what the text lists: the fit, the fit and the medians per
    axis value, or nothing.
    """

    variable: str
    reduce: Literal["max", "min", "final"] = "max"
    over: tuple[str, ...] = ("step",)
    name: str = ""
    ylabel: str = ""
    references: tuple[ReferenceLine, ...] = ()
    judged: bool = False
    inverse: bool = False
    listed: Literal["fit", "fit and medians", "nothing"] = "fit"

    @property
    def label(self) -> str:
        return self.name or f"`{self.variable}`"

    def values(self, view: StoreView) -> xr.DataArray:
        """One value per grid point (and no other axis)."""
        return reduce(view.ds[self.variable], self.reduce, self.over)

    def axis_text(self, view: StoreView) -> str:
        if self.ylabel:
            return self.ylabel
        units = view.ds[self.variable].attrs.get("units", "")
        text = self.variable.replace("_", " ")
        return f"{text} ({units})" if units else text


@dataclass(frozen=True)
class FittedPanel:
    """A panel's series along the claim's axis, each fitted, and the notes on what was left out."""

    panel: ScalingPanel
    series: list[Series]
    notes: list[str]


@dataclass(frozen=True)
class ScalingFit:
    """What a scaling-law claim measures: one ``FittedPanel`` for each of its panels the store has,
    in the order declared; each is one panel of the figure, and the verdict reads the judged ones."""

    panels: tuple[FittedPanel, ...]


class ScalingLawClaim(Claim[ScalingFit]):
    """A claim that a quantity scales as a power of a grid axis, its exponent on one side of a bound.

    Declare ``panels`` (``ScalingPanel``, at least one judged), ``axis`` (default ``m``),
    ``bound`` and ``allowed`` (``"below"``: exponent ≤ bound; ``"above"``: ≥), or another
    ``law``. ``needs``, ``uses`` and ``axes`` follow from the panels unless declared.
    """

    axis: str = WIDTH_AXIS
    panels: tuple[ScalingPanel, ...] = ()
    bound: float = 0.0
    allowed: Literal["below", "above"] = "below"
    law: Literal["power", "polynomial", "none"] = "power"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "panels" not in cls.__dict__:
            return
        judged_variables = tuple(panel.variable for panel in cls.panels if panel.judged)
        if "needs" not in cls.__dict__ and "needs_one_of" not in cls.__dict__:
            if len(judged_variables) == 1:
                cls.needs = judged_variables
            else:
                cls.needs_one_of = judged_variables
        if "uses" not in cls.__dict__:
            cls.uses = tuple(panel.variable for panel in cls.panels if not panel.judged)
        if "axes" not in cls.__dict__:
            cls.axes = (cls.axis,)

    def fit(self, view: StoreView) -> ScalingFit:
        fitted = []
        for panel in self.panels:
            if view.has(panel.variable):
                series, notes = series_of(view, panel.values(view), self.axis)
                fitted.append(FittedPanel(panel, series, notes))
        return ScalingFit(tuple(fitted))

    def panel_count(self, view: StoreView, fitted: ScalingFit) -> int:
        return len(fitted.panels)

    def bound_line(self, panel: ScalingPanel) -> ReferenceLine | None:
        """The line a judged panel is judged against (∝ axis^bound through its first median), unless
        the panel draws that exponent already; None for a panel not judged by an exponent."""
        if not panel.judged or self.law != "power":
            return None
        exponent = -self.bound if panel.inverse else self.bound
        if any(reference.exponent == exponent and reference.anchored for reference in panel.references):
            return None
        return ReferenceLine(exponent, f"judged against: ∝ {self.axis}^{exponent:g}")

    def draw(self, axes: list[Axes], view: StoreView, fitted: ScalingFit) -> None:
        x = np.asarray(view.ds[self.axis].values, dtype=float)
        for ax, item in zip(axes, fitted.panels):
            draw_series(ax, item.series)
            bound = self.bound_line(item.panel)
            for reference in item.panel.references + ((bound,) if bound else ()):
                reference.draw(ax, x, item.series)
            scaling_axes(ax, view, self.axis, item.panel.axis_text(view))

    def numbers(self, view: StoreView, fitted: ScalingFit) -> list[str]:
        lines = []
        for item in fitted.panels:
            label = item.panel.label
            if item.panel.listed != "nothing":
                lines += fit_numbers(item.series, f"exponent of {label} in {self.axis}")
            if item.panel.listed == "fit and medians":
                lines += [f"{label} by {self.axis} ({line.label}): {medians(line)}" for line in item.series]
        return lines

    def notes(self, view: StoreView, fitted: ScalingFit) -> list[str]:
        return list(dict.fromkeys(note for item in fitted.panels for note in item.notes))

    def verdict(self, view: StoreView, fitted: ScalingFit) -> Assessment:
        """The verdict of the first judged panel that can be measured (the steps to a target, say,
        else the speed per step when too few points reached the target), else the first judged panel's."""
        judged_panels = [item for item in fitted.panels if item.panel.judged]
        if not judged_panels:
            return Assessment(Verdict.NOT_ENOUGH_RANGE, "the store has none of the judged quantities")
        if self.law == "none":
            return Assessment(Verdict.DESCRIPTIVE, "descriptive fits only")
        verdicts = [self.panel_verdict(item) for item in judged_panels]
        return next((v for v in verdicts if v.verdict not in UNMEASURED), verdicts[0])

    def panel_verdict(self, item: FittedPanel) -> Assessment:
        what = f"the exponent of {item.panel.label} in {self.axis}"
        if self.law == "polynomial":
            return decide(item.series, polynomial_not_exponential(item.series, self.axis, inverse=item.panel.inverse))
        bound, allowed = (-self.bound, OPPOSITE[self.allowed]) if item.panel.inverse else (self.bound, self.allowed)
        return decide(item.series, judged(item.series, lambda fit: exponent_verdict(fit, bound, allowed, what)))
