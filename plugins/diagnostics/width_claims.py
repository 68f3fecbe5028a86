"""The report's claim on the width a task needs: the smallest m at which GD reaches
f(W_T) ≤ ε·f(W0) within its budget of T steps, against n or L (Theorem 1's
m ≥ poly(n, d, L, δ⁻¹, log 1/ε), which names no polynomial).

It reads ``loss`` on a store that scans the width m on a fine grid (ratio √2, say) beside
another numeric axis x (n or L). For each value of x and each replica, f_T/f_0 (the loss at the
last logged step over the loss at step 0) is known at every width; m* is where it crosses ε,
read as Theorem 1's quantifier reads: the smallest width from which on *every* wider width of
the grid reaches ε. A narrower width that reached ε with a wider one after it that did not does
not count (it is counted as a recrossing). m* is interpolated linearly in (ln m, ln f_T/f_0)
between the last width above ε and the first of that final run. A replica whose widest width
stays above ε has m* > m_max, one whose narrowest already reaches ε has m* ≤ m_min: both are
censored, never given a value, left out of the fits and counted in the report. A grid point that
is not done (diverged, failed, pending) is left out of its replica's widths.

ln m* is fitted against ln x per replica, with the Student-t interval of the mean exponent b
over replicas, and judged as Theorems 1–2's steps in L and n are: the exponential part r of
ln m* = a + b ln x + r x must keep the factor e^{r (x_max − x_min)} below 2 over the range
(polynomial, not exponential). The report sets b beside the powers the proof's own conditions
need (``PROOF_POWERS``): the paper states only "poly", but its sketch needs at least these.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Self

import numpy as np
import xarray as xr

from overparam import Assessment, Claim, StoreView, Verdict
from overparam.claims import (
    WIDTH_AXIS, Series, color, decide, draw_series, fit_numbers, geometric_interval, median_band,
    polynomial_not_exponential, scaling_axes, series_of,
)
from plugins.diagnostics.loss_claims import final_ratio

if TYPE_CHECKING:  # matplotlib is imported where a figure is drawn: `overparam show` draws none
    from matplotlib.axes import Axes

SIZE_AXES = ("n", "L", "d")  # the sizes Theorem 1's m >= poly(n, d, L, ...) grows in, as pipelines name them
EPSILON = 1e-3
"""The target: f(W_T) ≤ EPSILON·f(W0) at the end of training."""


@dataclass(frozen=True)
class ProofPower:
    """A power of n (and of L) that m must grow with for a condition to hold, and the condition."""

    power: float
    name: str
    source: str


PROOF_POWERS = (
    ProofPower(0.5, "counting", "m² trained weights for n(L−1)d targets: m ≥ √(n(L−1)d)"),
    ProofPower(1.0, "§4's projections", "W U_ℓ rectangular, U_ℓ of n·ℓ hidden states: m ≫ n(L−1)"),
    ProofPower(2 / 0.49, "(4.5)–(4.6)", "sparsities s ∈ [ρ², m^0.49], ρ = nLd log m: m ≥ ρ^(2/0.49)"),
)
"""What m must grow with: by counting (any network that fits generic targets), and for two
conditions of the proof's sketch (§4), which bound from below the degree in n and in L of Theorem
1's polynomial; its full degree the paper leaves out."""


class Outcome(StrEnum):
    """How a replica's f_T/f_0 stands to ε across the width grid."""

    CROSSED = "crossed"          # above ε at a narrow width, at or below it from some width on
    ALWAYS = "always"            # at or below ε at every width: m* ≤ m_min (censored)
    NEVER = "never"              # above ε at the widest width: m* > m_max (censored)
    UNMEASURED = "unmeasured"    # no width measured


@dataclass(frozen=True)
class NeededWidth:
    """One replica's m* (NaN unless crossed), its outcome, and whether a narrower width reached
    ε before a wider one failed it (a recrossing)."""

    width: float
    outcome: Outcome
    recrossed: bool


def needed_width(widths: np.ndarray, ratios: np.ndarray, epsilon: float = EPSILON) -> NeededWidth:
    """m*: the smallest width from which on every measured width has ``ratios`` ≤ ``epsilon``,
    interpolated linearly in (ln m, ln ratio) between the last width above ``epsilon`` and the first
    of the final run. ``widths`` ``[n_m]`` ascending, ``ratios`` ``[n_m]`` f_T/f_0, NaN where not measured."""
    widths, ratios = np.asarray(widths, dtype=float), np.asarray(ratios, dtype=float)
    measured = np.isfinite(ratios)
    widths, ratios = widths[measured], ratios[measured]
    if widths.size == 0:
        return NeededWidth(float("nan"), Outcome.UNMEASURED, False)
    reached = ratios <= epsilon
    if not reached[-1]:
        return NeededWidth(float("nan"), Outcome.NEVER, bool(reached.any()))
    failed = np.nonzero(~reached)[0]
    if failed.size == 0:
        return NeededWidth(float("nan"), Outcome.ALWAYS, False)
    above = int(failed[-1])  # the last width above ε; every wider one reaches it
    low, high = np.log(widths[above:above + 2]), np.log(np.maximum(ratios[above:above + 2], np.finfo(float).tiny))
    fraction = (np.log(epsilon) - high[0]) / (high[1] - high[0])
    return NeededWidth(float(np.exp(low[0] + fraction * (low[1] - low[0]))), Outcome.CROSSED,
                       bool(reached[:above].any()))


@dataclass(frozen=True)
class WidthCrossings:
    """Every replica's f_T/f_0 against m and its m*, at each value of the scanned axis.

    ``ratios`` and ``outcomes`` are DataArrays over the grid dims (``ratios`` with m, ``needed``
    and ``outcomes`` without); ``series`` fit ln m* against ln x, one per combination of the
    other scanned axes.
    """

    axis: str
    epsilon: float
    ratios: xr.DataArray
    needed: xr.DataArray
    outcomes: xr.DataArray
    recrossed: int
    series: list[Series]

    def count(self, outcome: Outcome, selection: dict[str, object] | None = None) -> int:
        values = self.outcomes.sel(selection or {}).values
        return int(np.sum(values == outcome.value))


def width_crossings(view: StoreView, axis: str, epsilon: float = EPSILON) -> WidthCrossings:
    """m* for every replica at every value of ``axis`` (and of the other scanned axes), and its fits."""
    ratios = final_ratio(view)
    widths = ratios[WIDTH_AXIS].values.astype(float)
    ordered = ratios.transpose(..., WIDTH_AXIS)
    rest = ordered.isel({WIDTH_AXIS: 0}, drop=True)
    values = ordered.values
    found = np.empty(rest.shape, dtype=object)
    for index in np.ndindex(rest.shape):
        found[index] = needed_width(widths, values[index], epsilon)
    needed = rest.copy(data=np.array([n.width for n in found.ravel()], dtype=float).reshape(rest.shape))
    outcomes = rest.copy(data=np.array([n.outcome.value for n in found.ravel()], dtype=object).reshape(rest.shape))
    recrossed = sum(n.recrossed for n in found.ravel())
    others = [dim for dim in view.scanned if dim not in (WIDTH_AXIS, axis)]
    series, _ = series_of(view, needed, axis, others=others)
    return WidthCrossings(axis, epsilon, ratios, needed, outcomes, recrossed, series)


def replica_values(crossings: WidthCrossings, view: StoreView, line: Series) -> list[str]:
    """The m* of one series at each x: geometric mean over replicas with its interval, and the censored."""
    texts = []
    for x, row in zip(line.x, line.y):
        point = {**line.selection, crossings.axis: x}
        never, always = crossings.count(Outcome.NEVER, point), crossings.count(Outcome.ALWAYS, point)
        finite = row[np.isfinite(row)]
        censored = "".join((f"; {never} with m* > {crossings.ratios[WIDTH_AXIS].values.max():g}" if never else "",
                            f"; {always} with m* ≤ {crossings.ratios[WIDTH_AXIS].values.min():g}" if always else ""))
        if finite.size == 0:
            texts.append(f"{line.axis} = {x:g}: no replica crossed{censored}")
            continue
        mean, low, high = geometric_interval(finite)
        interval = f" [{low:.3g}, {high:.3g}]" if np.isfinite(low) else ""
        each = ", ".join(f"{value:.3g}" for value in finite)
        over = f"95% interval over {finite.size} replicas" if interval else f"{finite.size} replica(s): no interval"
        texts.append(f"{line.axis} = {x:g}: m* = {mean:.3g}{interval} (geometric mean, {over}; each: {each}){censored}")
    return texts


class WidthNeeded(Claim[WidthCrossings]):
    """The smallest width at which GD reaches ε·f(W0) in its budget, against n or L: polynomial, and how far
    its power is from what the proof needs."""

    name = "width_needed"
    title = "The width training needs grows polynomially"
    paper_ref = "Theorem 1, Assumption 2.4"
    statement = ("m ≥ poly(n, d, L, δ⁻¹, log 1/ε) suffices for GD to reach f(W_T) ≤ ε within its T steps; the "
                 "polynomial is not named. The smallest width m* that reaches f_T ≤ ε·f_0 within T grows polynomially "
                 "in n and in L, not exponentially; its power is set beside those the proof's conditions need.")
    needs = ("loss",)
    axes = (WIDTH_AXIS,)
    figure = "width_needed"
    figure_title = f"Smallest width m* at which GD reaches f_T ≤ {EPSILON:g}·f_0 within its budget"
    order = 125
    axis = "n"  # the scanned axis m* is set against: each instance has its own

    def missing(self, view: StoreView) -> str | None:
        reason = super().missing(view)
        if reason is None and not self.sizes(view):
            return f"the grid scans none of {', '.join(SIZE_AXES)} beside m to set m* against"
        return reason

    @staticmethod
    def sizes(view: StoreView) -> list[str]:
        """The axes of Theorem 1's polynomial the grid scans (an output scale or a step budget is none)."""
        return [axis for axis in view.numeric_axes if axis in SIZE_AXES]

    def instances(self, view: StoreView) -> list[Self]:
        """One claim per axis of Theorem 1's polynomial the grid scans beside m."""
        return [self.along(axis=axis, axes=(WIDTH_AXIS, axis), title=f"{self.title}: m* against {axis}",
                           figure=f"width_needed_{axis}",
                           figure_title=f"{self.figure_title}, against {axis}")
                for axis in self.sizes(view)]

    def fit(self, view: StoreView) -> WidthCrossings:
        return width_crossings(view, self.axis)

    def panel_count(self, view: StoreView, fitted: WidthCrossings) -> int:
        return len(fitted.series) + 1

    def draw(self, axes: list[Axes], view: StoreView, fitted: WidthCrossings) -> None:
        widths = fitted.ratios[WIDTH_AXIS].values.astype(float)
        *curves, needed = axes
        for ax, line in zip(curves, fitted.series):
            for index, x in enumerate(line.x):
                point = {**line.selection, fitted.axis: x}
                colour = color(index)
                median_band(ax, widths, view.replicas(fitted.ratios.sel(point), WIDTH_AXIS), f"{fitted.axis}={x:g}",
                            colour, marker=".")
                crossed = fitted.needed.sel(point).values
                if np.isfinite(crossed).any():
                    ax.plot([geometric_interval(crossed)[0]], [fitted.epsilon], marker="v", color=colour, markersize=7,
                            linestyle="none")
            ax.axhline(fitted.epsilon, color="0.3", linestyle="--", linewidth=1, label=f"ε = {fitted.epsilon:g}")
            if line.selection:
                ax.set_title(view.label(line.selection), fontsize=9)
            scaling_axes(ax, view, WIDTH_AXIS, r"$f(W_T)/f(W_0)$ (▼: m*, geometric mean)")
        draw_series(needed, fitted.series, symbol="b")
        for index, line in enumerate(fitted.series):
            for column in range(line.y.shape[1]):
                needed.plot(line.x, line.y[:, column], linestyle="none", marker=".", color=color(index), alpha=0.5)
        start = next(((line.x[i], float(np.nanmedian(line.y[i]))) for line in fitted.series
                      for i in range(line.x.size) if np.isfinite(line.y[i]).any()), None)
        if start is not None:
            grid = np.geomspace(view.ds[fitted.axis].values.min(), view.ds[fitted.axis].values.max(), 50)
            for bound, style in zip(PROOF_POWERS, (":", "-.", (0, (1, 3)))):
                needed.plot(grid, start[1] * (grid / start[0]) ** bound.power, color="0.45", linestyle=style,
                            linewidth=1, label=f"∝ {fitted.axis}^{bound.power:.3g} ({bound.name})")
        needed.set_ylim(widths.min() / 1.5, widths.max() * 1.5)
        scaling_axes(needed, view, fitted.axis, "m* (interpolated; dots: replicas)")

    def numbers(self, view: StoreView, fitted: WidthCrossings) -> list[str]:
        lines = []
        for line in fitted.series:
            lines += replica_values(fitted, view, line)
        lines += fit_numbers(fitted.series, f"exponent b of m* in {fitted.axis}", "b")
        for line in fitted.series:
            if line.fit is None or not line.fit.has_interval:
                continue
            gaps = "; ".join(f"{b.power:.3g} ({b.name}, {b.source}): b − {b.power:.3g} = {line.fit.slope - b.power:.3g} "
                             f"[{line.fit.low - b.power:.3g}, {line.fit.high - b.power:.3g}]" for b in PROOF_POWERS)
            lines.append(f"{line.label}: against the powers of {fitted.axis} the proof's conditions need: {gaps}")
        return lines

    def notes(self, view: StoreView, fitted: WidthCrossings) -> list[str]:
        widths = fitted.ratios[WIDTH_AXIS].values
        return [f"m* is the smallest width from which on every width of the grid ({widths.min():g} to {widths.max():g}) "
                f"reaches f_T ≤ {fitted.epsilon:g}·f_0, interpolated in (ln m, ln f_T/f_0) across the crossing; "
                f"censored replicas (m* > {widths.max():g}: {fitted.count(Outcome.NEVER)}, m* ≤ {widths.min():g}: "
                f"{fitted.count(Outcome.ALWAYS)}) are left out of the fits, not given a value",
                f"{fitted.recrossed} replica(s) reached ε at a narrower width, then not at a wider one, before the "
                "final run: their m* is the start of that run",
                "the paper states only m ≥ poly(n, d, L, δ⁻¹, log 1/ε) (Assumption 2.4); the powers set beside b are "
                "lower bounds on what its proof needs, from conditions stated in its §4, not the proof's full degree"]

    def verdict(self, view: StoreView, fitted: WidthCrossings) -> Assessment:
        if not fitted.series:
            return Assessment(Verdict.NOT_ENOUGH_RANGE, "no series to fit")
        return decide(fitted.series, polynomial_not_exponential(fitted.series, fitted.axis))
