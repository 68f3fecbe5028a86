"""The report's claims on the variables of ``loss``: linear convergence (Theorems 1–2), by width
and by optimizer, and Theorem 3's Polyak–Łojasiewicz condition.

Theorem 1 (GD) and Theorem 2 (SGD): with η = Θ̃(δ/m · poly(n, d, L)) and m large enough,
f(W_T) ≤ ε after T = Ω̃(poly(n, d, L)/δ² · log(1/ε)) steps: the loss falls geometrically.
Theorem 3: ‖∇f(W)‖_F² ≥ δ/poly(ρ) · m · f(W) within poly(ϱ)/√m of initialization.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from framework import (
    WIDTH_AXIS,
    Assessment,
    Claim,
    Column,
    ScalingLawClaim,
    ScalingPanel,
    StoreView,
    Verdict,
    color,
    finish,
    median_band,
)

TARGET = 1e-2
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


def convergence(groups: dict[str, np.ndarray]) -> Assessment:
    """Whether every done point of every group reached f_T ≤ TARGET·f_0 (groups: final ratios)."""
    parts, reached_all, measured = [], True, False
    for label, ratios in groups.items():
        ratios = ratios[np.isfinite(ratios)]
        if ratios.size == 0:
            continue
        measured = True
        reached = int((ratios <= TARGET).sum())
        reached_all &= reached == ratios.size
        parts.append(f"{label}: {reached} of {ratios.size} reached f ≤ {TARGET:g}·f(W0) "
                     f"(median f_T/f_0 = {np.median(ratios):.3g})")
    if not measured:
        return Assessment(Verdict.NOT_ENOUGH_RANGE, "no done point has a loss trajectory")
    text = "; ".join(parts)
    if reached_all:
        return Assessment(Verdict.CONSISTENT, text)
    return Assessment(Verdict.INCONCLUSIVE, text + ": a run that stops short may need more steps or another step "
                      "size (the theorems fix both), so this is not evidence against linear convergence")


def final_ratio(view: StoreView) -> Any:
    return view.final("loss") / view.ds["loss"].isel(step=0)


def curves(ax: Any, view: StoreView, facet: dict[str, object], axis: str | None) -> None:
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


class LinearConvergence(Claim):
    """f(W_t)/f(W_0) against the step, one line per width, one panel per value of the other axes."""

    name = "linear_convergence"
    title = "Linear convergence of training"
    paper_ref = "Theorems 1–2"
    statement = LINEAR_RATE
    needs = ("loss",)
    uses = ("rate",)
    figure = "loss"
    figure_title = "Training loss f(W_t)/f(W_0): median over seeds, band = min–max"
    order = 10
    columns = (Column("f_T/f_0", "loss", "relative"),)

    def fit(self, view: StoreView) -> tuple[str | None, list[dict[str, object]], list[str]]:
        lines = line_axis(view)
        facets = [f for f in view.combinations([d for d in view.scanned if d != lines]) if view.done_at(f)]
        notes = []
        if len(facets) > MAX_FACETS:
            notes.append(f"only the first {MAX_FACETS} of {len(facets)} panels are drawn")
        return lines, facets[:MAX_FACETS], notes

    def panel_count(self, view: StoreView, fitted: Any) -> int:
        return len(fitted[1])

    def draw(self, axes: list[Any], view: StoreView, fitted: Any) -> None:
        lines, facets, _ = fitted
        for ax, facet in zip(axes, facets):
            curves(ax, view, facet, lines)

    def numbers(self, view: StoreView, fitted: Any) -> list[str]:
        if not view.has("rate"):
            return []
        rate = view.ds["rate"]
        return [f"fitted rate −d ln f/dt: median {float(rate.median()):.3g} per step "
                f"(range {float(rate.min()):.3g} to {float(rate.max()):.3g})"]

    def notes(self, view: StoreView, fitted: Any) -> list[str]:
        return list(fitted[2])

    def verdict(self, view: StoreView, fitted: Any) -> Assessment:
        lines, ratio = fitted[0], final_ratio(view)
        if lines is None:
            return convergence({"all points": ratio.values.ravel()})
        return convergence({view.label({lines: v}): ratio.sel({lines: v}).values.ravel() for v in view.ds[lines].values})


class OptimizerComparison(Claim):
    """GD against SGD against mini-batch: loss curves with one line per optimizer."""

    name = "optimizer_comparison"
    title = "GD, SGD and mini-batch all converge linearly"
    paper_ref = "Theorems 1–2"
    statement = LINEAR_RATE
    needs = ("loss",)
    axes = (OPTIMIZER_AXIS,)
    figure = "optimizers"
    figure_title = "Loss by optimizer (each with its own step budget): median over seeds"
    order = 20

    def fit(self, view: StoreView) -> list[dict[str, object]]:
        facet_dims = [d for d in view.scanned if d != OPTIMIZER_AXIS]
        return [f for f in view.combinations(facet_dims) if view.done_at(f)][:MAX_FACETS]

    def panel_count(self, view: StoreView, fitted: list[dict[str, object]]) -> int:
        return len(fitted)

    def draw(self, axes: list[Any], view: StoreView, fitted: list[dict[str, object]]) -> None:
        for ax, facet in zip(axes, fitted):
            curves(ax, view, facet, OPTIMIZER_AXIS)

    def notes(self, view: StoreView, fitted: Any) -> list[str]:
        return ["steps are optimizer steps: SGD reads one sequence per step, GD all n, so compare at equal "
                "sequence-gradients through the step budgets named in the legend"]

    def verdict(self, view: StoreView, fitted: Any) -> Assessment:
        ratio = final_ratio(view)
        return convergence({view.label({OPTIMIZER_AXIS: n}): ratio.sel({OPTIMIZER_AXIS: n}).values.ravel()
                            for n in view.ds[OPTIMIZER_AXIS].values.tolist()})


class PLCondition(ScalingLawClaim):
    """Minimum over training of ‖∇f‖_F²/(m f) against m: Theorem 3's lower bound δ/poly(ρ)."""

    name = "pl_condition"
    title = "Polyak–Łojasiewicz condition along training"
    paper_ref = "Theorem 3"
    statement = ("‖∇f(W)‖_F² ≥ δ/poly(ρ) · m · f(W) for every W within poly(ϱ)/√m of initialization: the ratio "
                 "‖∇f‖²/(m f) stays above a constant that does not shrink as m grows; and ‖∇f‖², ‖∇f_i‖² ≤ "
                 "poly(ρ)·m·f.")
    figure = "pl_ratio"
    figure_title = "Theorem 3: gradient norm relative to m·f over training (median over seeds)"
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
