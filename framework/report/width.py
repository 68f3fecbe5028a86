"""Claims about the width m: the PL condition (Theorem 3), the training radius (Theorems 3–4)
and the forward stability of (5.1). Each is a power law in m fitted over the width scan."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from framework.report.plotting import panels, save
from framework.report.scaling import draw, fit_numbers, judged, medians, series_of, width_axes
from framework.report.verdicts import Finding, Skipped, combine, exponent_verdict
from framework.report.view import WIDTH_AXIS, StoreView


def _needs_width(view: StoreView, title: str, *names: str) -> Skipped | None:
    if WIDTH_AXIS not in view.numeric_axes:
        return Skipped(title, f"the grid has no width axis `{WIDTH_AXIS}` with two or more values")
    missing = [n for n in names if not view.has(n)]
    if missing:
        return Skipped(title, f"the store has no values of {', '.join(f'`{n}`' for n in missing)}")
    return None


def pl_ratio(view: StoreView, out: Path) -> list[Finding | Skipped]:
    """Minimum over training of ‖∇f‖_F²/(m f) against m: Theorem 3's lower bound δ/poly(ρ)."""
    title = "PL condition against width"
    skipped = _needs_width(view, title, "pl_ratio")
    if skipped:
        return [skipped]
    lowest = view.ds["pl_ratio"].min("step")
    names = ["pl_ratio"] + (["pl_ratio_sequence_max"] if view.has("pl_ratio_sequence_max") else [])
    figure, axes = panels(len(names), "Theorem 3: gradient norm relative to m·f over training (median over seeds)")
    low_series, notes = series_of(view, lowest, WIDTH_AXIS)
    draw(axes[0], low_series)
    width_axes(axes[0], view,
             r"$\min_t\ \|\nabla f\|_F^2\,/\,(m f)$")
    finding = Finding(
        "Polyak–Łojasiewicz condition along training", "Theorem 3",
        "‖∇f(W)‖_F² ≥ δ/poly(ρ) · m · f(W) for every W within poly(ϱ)/√m of initialization: the ratio "
        "‖∇f‖²/(m f) stays above a constant that does not shrink as m grows; and ‖∇f‖², ‖∇f_i‖² ≤ poly(ρ)·m·f.",
        notes=notes)
    finding.numbers += fit_numbers(low_series, "exponent of min_t PL ratio in m")
    finding.numbers += [f"min_t PL ratio by m ({s.label}): {medians(s)}" for s in low_series]
    if len(names) == 2:
        highest = view.ds["pl_ratio_sequence_max"].max("step")
        high_series, _ = series_of(view, highest, WIDTH_AXIS)
        draw(axes[1], high_series)
        width_axes(axes[1], view,
             r"$\max_t \max_i\ \|\nabla f_i\|_F^2\,/\,(m f)$")
        finding.numbers += fit_numbers(high_series, "exponent of the upper-bound ratio in m")
    finding.figures.append(save(figure, out, "pl_ratio"))
    finding.assessment = combine(judged(low_series, lambda f: exponent_verdict(
        f, 0.0, "above", "the exponent of min_t ‖∇f‖²/(m f) in m")))
    return [finding]


def dprime(view: StoreView, out: Path) -> list[Finding | Skipped]:
    """Largest ‖D'‖_0 over training against m, log-log, beside m^{2/3} and the trivial bound m: (5.1)."""
    title = "ReLU sign flips against width"
    skipped = _needs_width(view, title, "dprime_max")
    if skipped:
        return [skipped]
    flips = view.ds["dprime_max"].max("step")
    series, notes = series_of(view, flips, WIDTH_AXIS)
    figure, axes = panels(1, "(5.1): ReLU signs flipped since initialization, max over i, l and t")
    ax = axes[0]
    draw(ax, series)
    m = np.asarray(view.ds[WIDTH_AXIS].values, dtype=float)
    anchor = _first_median(series)
    if anchor is not None:
        ax.plot(m, anchor * (m / m[0]) ** (2 / 3), color="0.35", linestyle=":",
                label="paper: ∝ m^(2/3) (through first point)")
    ax.plot(m, m, color="0.6", linestyle="-.", label="trivial bound: m")
    width_axes(ax, view,
             r"$\max_{i,l,t}\ \|D_{i,l}-D^{(0)}_{i,l}\|_0$ (sign flips)")
    finding = Finding(
        "Few ReLU signs flip during training", "(5.1)",
        "‖D'_{i,l}‖_0 ≤ O(m^{2/3}) for every W within poly(ϱ)/√m of initialization: at most m^{2/3} of the m "
        "signs flip, far below the trivial bound m. The fitted exponent in m should be at most 2/3.",
        [save(figure, out, "dprime")], notes=notes)
    finding.numbers += fit_numbers(series, "exponent of max_t ‖D'‖_0 in m")
    finding.numbers += [f"max_t ‖D'‖_0 by m ({s.label}): {medians(s)}" for s in series]
    finding.assessment = combine(judged(series, lambda f: exponent_verdict(
        f, 2 / 3, "below", "the exponent of ‖D'‖_0 in m")))
    return [finding]


def _first_median(series) -> float | None:
    for line in series:
        finite = np.isfinite(line.y).any(axis=1)
        if finite.any():
            return float(np.nanmedian(line.y[np.argmax(finite)]))
    return None


def distance(view: StoreView, out: Path) -> list[Finding | Skipped]:
    """√m·‖W_T − W_0‖_2 against m: bounded if training stays in the radius poly(ϱ)/√m."""
    title = "Distance travelled against width"
    skipped = _needs_width(view, title, "weight_distance_spectral_sqrt_m")
    if skipped:
        return [skipped]
    scaled = view.final("weight_distance_spectral_sqrt_m")
    series, notes = series_of(view, scaled, WIDTH_AXIS)
    plain = view.has("weight_distance_spectral")
    figure, axes = panels(2 if plain else 1, "Theorems 3–4: distance from initialization at the end of training")
    draw(axes[0], series)
    width_axes(axes[0], view,
             r"$\sqrt{m}\,\|W_T-W_0\|_2$")
    if plain:
        raw_series, _ = series_of(view, view.final("weight_distance_spectral"), WIDTH_AXIS)
        draw(axes[1], raw_series)
        m = np.asarray(view.ds[WIDTH_AXIS].values, dtype=float)
        anchor = _first_median(raw_series)
        if anchor is not None:
            axes[1].plot(m, anchor * (m / m[0]) ** -0.5, color="0.35", linestyle=":", label="∝ m^(−1/2)")
        width_axes(axes[1], view,
             r"$\|W_T-W_0\|_2$")
    finding = Finding(
        "Training stays within poly(ϱ)/√m of initialization", "Theorems 3–4",
        "Theorems 3 and 4 hold for ‖W − W0‖_2 ≤ poly(ϱ)/√m, and the convergence proofs keep the trajectory "
        "inside that radius: √m·‖W_T − W_0‖_2 stays bounded as m grows (exponent in m at most 0).",
        [save(figure, out, "distance")], notes=notes)
    finding.numbers += fit_numbers(series, "exponent of √m‖W_T − W_0‖_2 in m")
    finding.numbers += [f"√m‖W_T − W_0‖_2 by m ({s.label}): {medians(s)}" for s in series]
    finding.assessment = combine(judged(series, lambda f: exponent_verdict(
        f, 0.0, "below", "the exponent of √m‖W_T − W_0‖_2 in m")))
    return [finding]


def perturbation(view: StoreView, out: Path) -> list[Finding | Skipped]:
    """max_{i,l,t} ‖h − h0‖ against m: O(m^{-1/2}) by (5.1)."""
    title = "Hidden-state perturbation against width"
    skipped = _needs_width(view, title, "h_perturbation")
    if skipped:
        return [skipped]
    names = [n for n in ("h_perturbation", "g_perturbation") if view.has(n)]
    figure, axes = panels(len(names), "(5.1): largest change of the hidden states since initialization")
    fitted = []
    for ax, name in zip(axes, names):
        series, notes = series_of(view, view.ds[name].max(("step", "layer")), WIDTH_AXIS)
        fitted.append((name, series))
        draw(ax, series)
        width_axes(ax, view,
             rf"$\max_{{i,l,t}}\ \|{name[0]}_{{i,l}}-{name[0]}^{{(0)}}_{{i,l}}\|_2$")
    finding = Finding(
        "Forward stability: hidden states move by O(m^(−1/2))", "(5.1)",
        "‖h'_{i,l}‖, ‖g'_{i,l}‖ ≤ O(m^{−1/2}) for a perturbation ‖W'‖_2 ≤ poly(ϱ)/√m, with no exponential growth "
        "in l: the exponent in m should be at most −1/2.",
        [save(figure, out, "perturbation")])
    for name, series in fitted:
        finding.numbers += fit_numbers(series, f"exponent of max ‖{name[0]}'‖ in m")
    finding.assessment = combine(judged(fitted[0][1], lambda f: exponent_verdict(
        f, -0.5, "below", f"the exponent of max ‖{fitted[0][0][0]}'‖ in m")))
    return [finding]
