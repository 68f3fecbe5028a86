"""The report's claims on the variables of ``loss``: linear convergence (Theorems 1–2), by width
and by optimizer, and Theorem 3's Polyak–Łojasiewicz condition.

Linear convergence is judged on the rate itself, not on a final loss. Each trajectory is cut
into phases at the logged steps nearest T/4 and T/2 (T: its last step with f above round-off):
a first phase [0, T/4], which the theory allows to be fast, a middle [T/4, T/2] and a late
[T/2, T] one, each with its mean rate −Δ ln f / Δt. Under linear convergence the late rate
equals the middle one, q = r_late / r_middle = 1; under any power-law (sublinear) decay
f ∝ t^{−p}, q = ln(T/t_h)/(T − t_h) · (t_h − t_q)/ln(t_h/t_q), exactly 1/2 for exact halves,
whatever p. The claim is supported when the whole 95% interval of q over replicas lies above
the geometric midpoint of the two, √q_power (1/√2 for exact halves), contradicted when it lies
below.

Theorem 1 (GD) and Theorem 2 (SGD): with η = Θ̃(δ/m · poly(n, d, L)) and m large enough,
f(W_T) ≤ ε after T = Ω̃(poly(n, d, L)/δ² · log(1/ε)) steps: the loss falls geometrically.
Theorem 3: ‖∇f(W)‖_F² ≥ δ/poly(ρ) · m · f(W) within poly(ϱ)/√m of initialization.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from dataclasses import dataclass, replace

import numpy as np
import xarray as xr

from overparam import Assessment, Claim, Column, StoreView, Verdict
from overparam.claims import (
    ScalingLawClaim, ScalingPanel, WIDTH_AXIS, color, decide, finish, interval_verdict, median_band, t_interval,
)

if TYPE_CHECKING:  # matplotlib is imported where a figure is drawn: `overparam show` draws none
    from matplotlib.axes import Axes

TARGET = 1e-2
FLOOR = 1e-9
"""Trajectories are cut at the last logged f ≥ FLOOR·f(W0): below, round-off, not training, sets f."""
MAX_FACETS = 6
OPTIMIZER_AXIS = "optimizer"
LINEAR_RATE = ("f(W_T) ≤ ε after T = Ω̃(poly(n, d, L)/δ² · log(1/ε)) steps, for GD (Theorem 1) and for SGD "
               "with one random sequence per step (Theorem 2): the loss falls geometrically (linear convergence).")
RATIO_LABEL = r"$f(W_t)\,/\,f(W_0)$"


def line_axis(view: StoreView) -> str | None:
    """The axis drawn as one line each in loss curves: the width m, else the first numeric axis."""
    if WIDTH_AXIS in view.scanned:
        return WIDTH_AXIS
    return view.numeric_axes[0] if view.numeric_axes else None


@dataclass(frozen=True)
class Phases:
    """The phase rates of one trajectory: steps 0 < t_q < t_h < T and the mean rate in each phase."""

    first: float
    middle: float
    late: float
    t_q: float
    t_h: float
    end: float

    @property
    def ratio(self) -> float:
        """q = r_late / r_middle: 1 for linear convergence, 1/2 for any power-law decay."""
        return self.late / self.middle if self.middle > 0 else float("nan")

    @property
    def power_law_ratio(self) -> float:
        """q that a power-law decay f ∝ t^{−p} gives at these steps, for every p."""
        late = np.log(self.end / self.t_h) / (self.end - self.t_h)
        middle = np.log(self.t_h / self.t_q) / (self.t_h - self.t_q)
        return float(late / middle)


def phases(steps: np.ndarray, f: np.ndarray) -> Phases | None:
    """The phases of one trajectory ``f`` logged at ``steps`` (NaN where not logged), or None when
    it has too few logged steps (three phases need t_q < t_h < T, all past 0)."""
    steps, f = np.asarray(steps, dtype=float), np.asarray(f, dtype=float)
    keep = np.isfinite(f) & (f > 0)
    steps, f = steps[keep], f[keep]
    if steps.size < 4 or steps[0] != 0:
        return None
    usable = f >= FLOOR * f[0]
    last = int(np.nonzero(usable)[0].max())
    steps, f = steps[:last + 1], f[:last + 1]
    end = steps[-1]
    half = int(np.argmin(np.abs(steps - end / 2)))
    quarter = int(np.argmin(np.abs(steps - end / 4)))
    if not 0 < quarter < half < steps.size - 1:
        return None
    t_q, t_h = steps[quarter], steps[half]

    def rate(a: int, b: int) -> float:
        return float(np.log(f[a] / f[b]) / (steps[b] - steps[a]))

    return Phases(rate(0, quarter), rate(quarter, half), rate(half, steps.size - 1), t_q, t_h, end)


@dataclass(frozen=True)
class RateSeries:
    """The replicas of one line of the loss figure, their phases and the verdict on them."""

    label: str
    selection: dict[str, object]
    phases: list[Phases]

    def judge(self) -> Assessment:
        if not self.phases:
            return Assessment(Verdict.NOT_ENOUGH_RANGE, "no trajectory has three phases past step 0 above round-off")
        ratios = np.array([p.ratio for p in self.phases])
        q, low, high = t_interval(ratios)
        bound = float(np.sqrt(np.median([p.power_law_ratio for p in self.phases])))
        verdict = interval_verdict(q, low, high, int(np.isfinite(ratios).sum()), bound, "above",
                                   "the late rate over the middle rate, q = r_late/r_middle,")
        reason = verdict.reason + (f" (linear convergence gives q = 1, any power-law decay q = {bound ** 2:.3g} at "
                                   "these steps; the bound is their geometric midpoint)")
        if verdict.verdict is Verdict.CONTRADICTED and low > bound**2:
            reason += (f". The interval also lies above the power-law value {bound ** 2:.3g}: the decay is faster than "
                       "any power law, but its rate still falls over this budget, as a sum of exponentials does "
                       "before its slowest one takes over (gradient descent on a near-constant kernel)")
        return replace(verdict, reason=reason)

    def text(self) -> str:
        """The phases in words: rates per step, medians over replicas."""
        if not self.phases:
            return f"{self.label}: no trajectory long enough for three phases"
        first, middle, late = (float(np.median([getattr(p, k) for p in self.phases])) for k in
                               ("first", "middle", "late"))
        t_q, t_h, end = (float(np.median([getattr(p, k) for p in self.phases])) for k in ("t_q", "t_h", "end"))
        kind = "a fast first phase" if first > 1.5 * middle else "a first phase"
        return (f"{self.label}: {kind} at {first:.3g} per step (steps 0–{t_q:g}), then {middle:.3g} "
                f"(steps {t_q:g}–{t_h:g}) and {late:.3g} (steps {t_h:g}–{end:g}); medians over "
                f"{len(self.phases)} replica(s)")


def rate_series(view: StoreView, selections: list[dict[str, object]]) -> list[RateSeries]:
    """The phases of every done trajectory, grouped by selection (replicas pooled)."""
    found = []
    steps = view.ds["step"].values
    for selection in selections:
        loss = view.ds["loss"].sel(selection)
        rows = loss.transpose(..., "step").values.reshape(-1, steps.size)
        measured = [phases(steps, row) for row in rows if np.isfinite(row).any()]
        found.append(RateSeries(view.label(selection) or "all points", selection,
                                [p for p in measured if p is not None]))
    return found


def convergence(series: list[RateSeries]) -> Assessment:
    """The linear-rate verdict, decided at the largest width when the lines differ in m."""
    return decide(series, [(line.label, line.judge()) for line in series])


def reached(view: StoreView, axis: str | None) -> list[str]:
    """How many done points of each line reached f ≤ TARGET·f(W0): context, not the verdict."""
    ratio = final_ratio(view)
    groups = ({"all points": ratio.values.ravel()} if axis is None else
              {view.label({axis: v}): ratio.sel({axis: v}).values.ravel() for v in view.ds[axis].values.tolist()})
    lines = []
    for label, values in groups.items():
        values = values[np.isfinite(values)]
        if values.size:
            lines.append(f"{label}: {int((values <= TARGET).sum())} of {values.size} reached f ≤ {TARGET:g}·f(W0) "
                         f"(median f_T/f_0 = {np.median(values):.3g})")
    return lines


def final_ratio(view: StoreView) -> xr.DataArray:
    """f_T/f_0 per grid point: the last logged loss over the first."""
    return view.final("loss") / view.ds["loss"].isel(step=0)


def curves(ax: Axes, view: StoreView, facet: dict[str, object], axis: str | None) -> None:
    """f(W_t)/f(W_0) against the step in one panel: one line per value of ``axis`` (or one line)."""
    ratio = view.ds["loss"] / view.ds["loss"].isel(step=0)
    values = [None] if axis is None else view.ds[axis].values.tolist()
    for index, value in enumerate(values):
        selection = facet if value is None else {**facet, axis: value}
        label = "all" if value is None else view.label({axis: value})
        median_band(ax, view.ds["step"].values, view.replicas(ratio.sel(selection), "step"), label, color(index),
                    marker=None)
    ax.set_title(view.label(facet), fontsize=9)
    finish(ax, "step t (iterations)", RATIO_LABEL, logy=True)


@dataclass(frozen=True)
class CurvesFit:
    """The loss curves of ``linear_convergence``: the axis drawn as one line each in a panel
    (``lines``; None: one line), the panels (one per combination of the other axes, at most
    ``MAX_FACETS``), the notes on panels left out, and the phase rates of every done trajectory."""

    lines: str | None
    facets: list[dict[str, object]]
    notes: list[str]
    rates: list[RateSeries]


@dataclass(frozen=True)
class OptimizerFit:
    """The loss curves of ``optimizer_comparison``: its panels (one per combination of the axes
    other than the optimizer) and the phase rates of every done trajectory."""

    facets: list[dict[str, object]]
    rates: list[RateSeries]


class LinearConvergence(Claim[CurvesFit]):
    """f(W_t)/f(W_0) against the step, one line per width, one panel per value of the other axes."""

    name = "linear_convergence"
    title = "Linear convergence of training"
    paper_ref = "Theorems 1–2"
    statement = LINEAR_RATE
    needs = ("loss",)
    uses = ("rate",)
    figure = "loss"
    figure_title = (r"Training loss $f(W_t)/f(W_0)$; dotted verticals: the phases' ends, each trajectory's logged steps "
                    r"nearest $T/4$ and $T/2$ ($T$: its last step above round-off), median over trajectories, "
                    r"at the steps the legend names")
    order = 10
    columns = (Column("f_T/f_0", "loss", "relative"),)

    def fit(self, view: StoreView) -> CurvesFit:
        lines = line_axis(view)
        facets = [f for f in view.combinations([d for d in view.scanned if d != lines]) if view.done_at(f)]
        notes = []
        if len(facets) > MAX_FACETS:
            notes.append(f"only the first {MAX_FACETS} of {len(facets)} panels are drawn")
        selections = [f for f in view.combinations(view.scanned) if view.done_at(f)]
        return CurvesFit(lines, facets[:MAX_FACETS], notes, rate_series(view, selections))

    def panel_count(self, view: StoreView, fitted: CurvesFit) -> int:
        return len(fitted.facets)

    def draw(self, axes: list[Axes], view: StoreView, fitted: CurvesFit) -> None:
        ends = [(p.t_q, p.t_h) for line in fitted.rates for p in line.phases]
        for ax, facet in zip(axes, fitted.facets):
            if ends:
                quarter, half = np.median(np.array(ends), axis=0)
                ax.axvline(quarter, color="0.4", linestyle=":", linewidth=0.9,
                           label=rf"phase ends $t_q$ = {quarter:g}, $t_h$ = {half:g}")
                ax.axvline(half, color="0.4", linestyle=":", linewidth=0.9)
            curves(ax, view, facet, fitted.lines)

    def numbers(self, view: StoreView, fitted: CurvesFit) -> list[str]:
        lines = [line.text() for line in fitted.rates] + reached(view, fitted.lines)
        if view.has("rate"):
            rate = view.ds["rate"]
            lines.append(f"rate −d ln f/dt fitted over the whole logged trajectory: median {float(rate.median()):.3g} "
                         f"per step (range {float(rate.min()):.3g} to {float(rate.max()):.3g})")
        return lines

    def notes(self, view: StoreView, fitted: CurvesFit) -> list[str]:
        return list(fitted.notes)

    def verdict(self, view: StoreView, fitted: CurvesFit) -> Assessment:
        return convergence(fitted.rates)


class OptimizerComparison(Claim[OptimizerFit]):
    """GD against SGD against mini-batch: loss curves with one line per optimizer."""

    name = "optimizer_comparison"
    title = "GD, SGD and mini-batch all converge linearly"
    paper_ref = "Theorems 1–2"
    statement = LINEAR_RATE
    needs = ("loss",)
    axes = (OPTIMIZER_AXIS,)
    figure = "optimizers"
    figure_title = "Loss by optimizer (each with its own step budget)"
    order = 20

    def fit(self, view: StoreView) -> OptimizerFit:
        facet_dims = [d for d in view.scanned if d != OPTIMIZER_AXIS]
        facets = [f for f in view.combinations(facet_dims) if view.done_at(f)][:MAX_FACETS]
        selections = [f for f in view.combinations(view.scanned) if view.done_at(f)]
        return OptimizerFit(facets, rate_series(view, selections))

    def panel_count(self, view: StoreView, fitted: OptimizerFit) -> int:
        return len(fitted.facets)

    def draw(self, axes: list[Axes], view: StoreView, fitted: OptimizerFit) -> None:
        for ax, facet in zip(axes, fitted.facets):
            curves(ax, view, facet, OPTIMIZER_AXIS)

    def numbers(self, view: StoreView, fitted: OptimizerFit) -> list[str]:
        return [line.text() for line in fitted.rates] + reached(view, OPTIMIZER_AXIS)

    def notes(self, view: StoreView, fitted: OptimizerFit) -> list[str]:
        return ["steps are optimizer steps: SGD reads one sequence per step, GD all n, so compare at equal "
                "sequence-gradients through the step budgets named in the legend"]

    def verdict(self, view: StoreView, fitted: OptimizerFit) -> Assessment:
        return convergence(fitted.rates)


class PLCondition(ScalingLawClaim):
    """Minimum over training of ‖∇f‖_F²/(m f) against m: Theorem 3's lower bound δ/poly(ρ)."""

    name = "pl_condition"
    title = "Polyak–Łojasiewicz condition along training"
    paper_ref = "Theorem 3"
    statement = ("‖∇f(W)‖_F² ≥ δ/poly(ρ) · m · f(W) for every W within poly(ϱ)/√m of initialization: the ratio "
                 "‖∇f‖²/(m f) stays above a constant that does not shrink as m grows; and ‖∇f‖², ‖∇f_i‖² ≤ "
                 "poly(ρ)·m·f.")
    figure = "pl_ratio"
    figure_title = "Theorem 3: gradient norm relative to m·f over training"
    order = 40
    panels = (
        ScalingPanel("pl_ratio", reduce="min", name="min_t PL ratio", judged=True, listed="fit and medians",
                     ylabel=r"$\min_t\ \|\nabla f\|_F^2\,/\,(m f)$"),
        ScalingPanel("pl_ratio_sequence_max", reduce="max", name="the upper-bound ratio",
                     ylabel=r"$\max_t \max_i\ \|\nabla f_i\|_F^2\,/\,(m f)$"),
    )
    bound = 0.0
    allowed = "above"
    columns = (Column("min PL ratio", "pl_ratio", "min"),)
