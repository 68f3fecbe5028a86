"""Claims about training itself: linear convergence (Theorems 1–2) and how its speed scales.

Theorem 1 (GD) and Theorem 2 (SGD): with η = Θ̃(δ/m · poly(n, d, L)) and m large enough,
f(W_T) ≤ ε for T = Ω̃(poly(n, d, L)/δ² · log(1/ε)): a linear rate, polynomial in n, d and L
(not exponential in L), at most 1/δ² in the separation, and with no dependence on m.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from framework.report.fits import fit_exponential, fit_power_law
from framework.report.plotting import color, finish, median_band, panels, save
from framework.report.scaling import draw, fit_numbers, judged, series_of
from framework.report.verdicts import Assessment, Finding, Skipped, Verdict, combine, exponent_verdict
from framework.report.view import DEPTH_AXIS, WIDTH_AXIS, StoreView

TARGET = 1e-2
MAX_FACETS = 6
OPTIMIZER_AXIS = "optimizer"
AXIS_LABELS = {WIDTH_AXIS: "width m (neurons)", DEPTH_AXIS: "sequence length L (layers)", "n": "sequences n",
               "delta": "separation δ (Assumption 2.1)"}
LINEAR_RATE = ("f(W_T) ≤ ε after T = Ω̃(poly(n, d, L)/δ² · log(1/ε)) steps, for GD (Theorem 1) and for SGD "
               "with one random sequence per step (Theorem 2): the loss falls geometrically (linear convergence).")


def line_axis(view: StoreView) -> str | None:
    """The axis drawn as one line each in loss curves: the width m, else the first numeric axis."""
    if WIDTH_AXIS in view.scanned:
        return WIDTH_AXIS
    return view.numeric_axes[0] if view.numeric_axes else None


def _convergence(view: StoreView, groups: dict[str, np.ndarray]) -> Assessment:
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


def _ratio(view: StoreView):
    loss = view.ds["loss"]
    return loss / loss.isel(step=0)


def loss_curves(view: StoreView, out: Path) -> list[Finding | Skipped]:
    """f(W_t)/f(W_0) against the step, log y, one line per width, one panel per other axes' values."""
    title = "Loss against step"
    if not view.has("loss"):
        return [Skipped(title, "the store has no `loss` values (diagnostic `loss` not run, or no done point)")]
    lines = line_axis(view)
    facet_dims = [d for d in view.scanned if d != lines]
    facets = [f for f in view.combinations(facet_dims) if view.done_at(f)]
    notes = []
    if len(facets) > MAX_FACETS:
        notes.append(f"only the first {MAX_FACETS} of {len(facets)} panels are drawn")
        facets = facets[:MAX_FACETS]
    ratio = _ratio(view)
    steps = view.ds["step"].values
    figure, axes = panels(len(facets), "Training loss f(W_t)/f(W_0): median over seeds, band = min–max")
    for ax, facet in zip(axes, facets):
        values = [None] if lines is None else view.ds[lines].values.tolist()
        for index, value in enumerate(values):
            selection = facet if value is None else {**facet, lines: value}
            label = "all" if value is None else view.label({lines: value})
            median_band(ax, steps, view.replicas(ratio.sel(selection), "step"), label, color(index), marker=None)
        ax.set_title(view.label(facet), fontsize=9)
        finish(ax, "step t (iterations)", r"$f(W_t)\,/\,f(W_0)$", logy=True)
    figure_name = save(figure, out, "loss")
    final_ratio = view.final("loss") / view.ds["loss"].isel(step=0)
    groups = ({"all points": final_ratio.values.ravel()} if lines is None else
              {view.label({lines: v}): final_ratio.sel({lines: v}).values.ravel() for v in view.ds[lines].values})
    finding = Finding("Linear convergence of training", "Theorems 1–2", LINEAR_RATE, [figure_name],
                      notes=notes)
    finding.assessment = _convergence(view, groups)
    if view.has("rate"):
        rate = view.ds["rate"]
        finding.numbers.append(f"fitted rate −d ln f/dt: median {float(rate.median()):.3g} per step "
                               f"(range {float(rate.min()):.3g} to {float(rate.max()):.3g})")
    return [finding]


def optimizers(view: StoreView, out: Path) -> list[Finding | Skipped]:
    """GD against SGD against mini-batch: loss curves with one line per optimizer."""
    title = "GD against SGD against mini-batch"
    if OPTIMIZER_AXIS not in view.scanned:
        return [Skipped(title, f"the grid has no `{OPTIMIZER_AXIS}` axis")]
    if not view.has("loss"):
        return [Skipped(title, "the store has no `loss` values")]
    facet_dims = [d for d in view.scanned if d != OPTIMIZER_AXIS]
    facets = [f for f in view.combinations(facet_dims) if view.done_at(f)][:MAX_FACETS]
    ratio = _ratio(view)
    steps = view.ds["step"].values
    figure, axes = panels(len(facets), "Loss by optimizer (each with its own step budget): median over seeds")
    names = view.ds[OPTIMIZER_AXIS].values.tolist()
    for ax, facet in zip(axes, facets):
        for index, name in enumerate(names):
            y = view.replicas(ratio.sel({**facet, OPTIMIZER_AXIS: name}), "step")
            median_band(ax, steps, y, view.label({OPTIMIZER_AXIS: name}), color(index), marker=None)
        ax.set_title(view.label(facet), fontsize=9)
        finish(ax, "step t (iterations)", r"$f(W_t)\,/\,f(W_0)$", logy=True)
    final_ratio = view.final("loss") / view.ds["loss"].isel(step=0)
    groups = {view.label({OPTIMIZER_AXIS: n}): final_ratio.sel({OPTIMIZER_AXIS: n}).values.ravel() for n in names}
    finding = Finding("GD, SGD and mini-batch all converge linearly", "Theorems 1–2", LINEAR_RATE,
                      [save(figure, out, "optimizers")],
                      notes=["steps are optimizer steps: SGD reads one sequence per step, GD all n, so compare "
                             "at equal sequence-gradients through the step budgets named in the legend"])
    finding.assessment = _convergence(view, groups)
    return [finding]


def _steps_claim(axis: str) -> tuple[str, str, float | None, str]:
    """What Theorems 1–2 say about the steps to a target as ``axis`` grows: statement, model, bound, side."""
    if axis == WIDTH_AXIS:
        return ("T has no factor of m: once m ≥ poly(n, d, L, δ⁻¹), a wider network needs no more steps "
                "(the step size η ∝ 1/m is already scaled with m).", "power", 0.0, "below")
    if axis in (DEPTH_AXIS, "n"):
        return (f"T grows polynomially in {axis}, not exponentially (no 2^Ω(L) explosion or vanishing).",
                "compare", None, "")
    if axis == "delta":
        return ("T = Õ(poly/δ²): as the separation δ shrinks, T grows at most as δ⁻², i.e. the exponent of T in "
                "δ is at least −2.", "power", -2.0, "above")
    return ("", "power", None, "")


def training_scaling(view: StoreView, out: Path) -> list[Finding | Skipped]:
    """Fitted rate and steps to target against each numeric grid axis, log-log, with judged exponents."""
    title = "Rate and steps to target against the grid axes"
    if not view.has("rate") and not view.has("steps_to_target"):
        return [Skipped(title, "the store has no `rate` or `steps_to_target` (diagnostic `rate` not run)")]
    if not view.numeric_axes:
        return [Skipped(title, "the grid has no numeric axis with two or more values")]
    findings: list[Finding | Skipped] = []
    for axis in view.numeric_axes:
        statement, model, bound, side = _steps_claim(axis)
        names = [n for n in ("steps_to_target", "rate") if view.has(n)]
        figure, axes = panels(len(names), f"Training speed against {axis}: median over seeds, dashed = power-law fit")
        fitted = {}
        for ax, name in zip(axes, names):
            series, notes = series_of(view, view.ds[name], axis)
            fitted[name] = (series, notes)
            draw(ax, series)
            units = view.ds[name].attrs.get("units", "")
            finish(ax, AXIS_LABELS.get(axis, axis), f"{name.replace('_', ' ')} ({units})" if units else name, logx=True, logy=True,
                   xticks=view.ds[axis].values)
        finding = Finding(f"Steps to target against {axis}", "Theorems 1–2",
                          statement or f"The paper makes no claim about the axis `{axis}`; the fits are descriptive.",
                          [save(figure, out, f"speed_{axis}")])
        for name, (series, notes) in fitted.items():
            finding.numbers += fit_numbers(series, f"exponent of {name} in {axis}")
            finding.notes += notes
        if "steps_to_target" in fitted:
            series, what = fitted["steps_to_target"][0], f"the exponent of T in {axis}"
        else:  # the rate is ∝ 1/T: its exponent bounds the other way
            series, what = fitted["rate"][0], f"the exponent of the rate in {axis}"
            bound, side = (None if bound is None else -bound), {"below": "above", "above": "below"}.get(side, side)
        if not statement:
            finding.assessment = Assessment(Verdict.DESCRIPTIVE, "descriptive fits only")
        elif model == "compare":
            finding.assessment = combine(_polynomial_not_exponential(series, axis))
        else:
            finding.assessment = combine(judged(series, lambda f: exponent_verdict(f, bound, side, what)))
        findings.append(finding)
    return findings


def _polynomial_not_exponential(series, axis: str) -> list[tuple[str, Assessment]]:
    """Judge each series by which law fits its steps better: a power of ``axis`` or an exponential."""
    result = []
    for line in series:
        if line.fit is None:
            result.append((line.label, Assessment(Verdict.NOT_ENOUGH_RANGE, line.problem or "no fit")))
            continue
        power, exponential = fit_power_law(line.x, line.y), fit_exponential(line.x, line.y)
        text = (f"power law {power.text()} (rms log-residual {power.residual:.3g}) against exponential "
                f"{exponential.text('r')} (rms log-residual {exponential.residual:.3g})")
        if power.residual <= exponential.residual:
            result.append((line.label, Assessment(Verdict.CONSISTENT, text + ": the power law fits at least as well")))
        else:
            result.append((line.label, Assessment(Verdict.INCONCLUSIVE,
                                                  text + f": the exponential fits better over this range of {axis}")))
    return result
