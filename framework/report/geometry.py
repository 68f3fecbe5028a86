"""Claims about the network's geometry at and near initialization: §4's (4.1)–(4.6) and Theorem 4.

(4.1) 1/2 ≤ ‖h_{i,l}‖, ‖g_{i,l}‖ ≤ O(L); (4.2) fresh randomness ‖(I − U_{l−1}U_{l−1}ᵀ)h_{i,l}‖ ≥
Ω̃(1/L²); (4.3) the fresh parts stay (δ/2)-separable; (4.4) ‖W D ⋯ D W‖_2 ≤ O(L³) instead of
growing as √2^length; Fact 2.5 / (4.6) the B chains scale as √(m/d); Theorem 4 bounds the
second-order remainder of f by poly(ϱ) m^{1/3} √f ‖W'‖ + poly(ρ) m ‖W'‖².
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import xarray as xr

from framework.report.plotting import color, finish, median_band, panels, save
from framework.report.scaling import MAX_SERIES, draw, fit_numbers, judged, medians, series_of, width_axes
from framework.report.verdicts import Assessment, Finding, Skipped, Verdict, combine, exponent_verdict
from framework.report.view import DEPTH_AXIS, WIDTH_AXIS, StoreView

HALF = 0.5
NAIVE_GROWTH = math.sqrt(2)


def threshold_verdict(view: StoreView, worst: xr.DataArray, bound: float, what: str) -> Assessment:
    """Judge ``worst`` (one value per grid point, the lowest over steps and layers) against ≥ bound.

    The theorems hold for m large enough, so the points at the largest width decide: none below
    the bound is consistent, a median below it is not consistent, some below is inconclusive.
    Smaller widths that fall below are named in the reason.
    """
    finite = worst.notnull()
    if not bool(finite.any()):
        return Assessment(Verdict.NOT_ENOUGH_RANGE, f"no done point measured {what}")
    if WIDTH_AXIS in view.scanned:
        widths = [m for m in view.ds[WIDTH_AXIS].values if bool(finite.sel({WIDTH_AXIS: m}).any())]
        top, where = worst.sel({WIDTH_AXIS: max(widths)}), f"at the largest width m = {max(widths)}"
        below_smaller = [m for m in widths[:-1] if bool((worst.sel({WIDTH_AXIS: m}) < bound).any())]
    else:
        top, where, below_smaller = worst, "over all points", []
    values = top.values[np.isfinite(top.values)]
    below = int((values < bound).sum())
    text = (f"{what} {where}: lowest {values.min():.3g}, median {np.median(values):.3g}; {below} of {values.size} "
            f"point(s) below {bound:g}")
    if below_smaller:
        text += f"; below {bound:g} at the smaller width(s) m = {', '.join(map(str, below_smaller))}"
    if below == 0:
        return Assessment(Verdict.CONSISTENT, text)
    if np.median(values) < bound:
        return Assessment(Verdict.NOT_CONSISTENT, text)
    return Assessment(Verdict.INCONCLUSIVE, text)


def _series_selections(view: StoreView) -> tuple[list[dict[str, object]], list[str]]:
    """One line per combination of the scanned axes (L first when present), at most MAX_SERIES."""
    dims = sorted(view.scanned, key=lambda d: d != DEPTH_AXIS)
    selections = list(view.combinations(dims))
    notes = []
    if len(selections) > MAX_SERIES:
        notes.append(f"only the first {MAX_SERIES} of {len(selections)} series are drawn")
        selections = selections[:MAX_SERIES]
    return selections, notes


def _by_layer(ax, view: StoreView, values: xr.DataArray, selections, *, linestyle: str = "-",
              legend: bool = True) -> None:
    layers = view.ds["layer"].values
    for index, selection in enumerate(selections):
        label = (view.label(selection) or "all points") if legend else "_nolegend_"
        median_band(ax, layers, view.replicas(values.sel(selection), "layer"), label, color(index),
                    linestyle=linestyle)


def forward_geometry(view: StoreView, out: Path) -> list[Finding | Skipped]:
    """Forward norms, fresh randomness and separability against the layer, one line per L (or m)."""
    present = [n for n in ("h_norm_min", "fresh_randomness", "separability_ratio") if view.has(n)]
    if not present:
        return [Skipped("Forward norms, fresh randomness and separability against layer",
                        "the store has none of `h_norm_min`, `fresh_randomness`, `separability_ratio`")]
    selections, notes = _series_selections(view)
    figure, axes = panels(len(present), "§4 at every layer: worst value over training, median over seeds")
    findings: list[Finding | Skipped] = []
    for ax, name in zip(axes, present):
        worst = view.ds[name].min("step")
        _by_layer(ax, view, worst, selections)
        if name == "h_norm_min" and view.has("h_norm_max"):
            _by_layer(ax, view, view.ds["h_norm_max"].max("step"), selections, linestyle=":", legend=False)
        if name in ("h_norm_min", "separability_ratio"):
            ax.axhline(HALF, color="k", linestyle="--", linewidth=1, label="paper's lower bound 1/2")
        ylabel = {"h_norm_min": r"$\min_i$ (solid), $\max_i$ (dotted) of $\|h_{i,l}\|_2$",
                  "fresh_randomness": r"$\min_i\ \|(I - U_{l-1}U_{l-1}^\top)\, h_{i,l}\|_2$",
                  "separability_ratio": r"separability / $\delta$ (min over pairs)"}[name]
        finish(ax, "layer l (1..L)", ylabel, logy=name != "separability_ratio")
    figure_name = save(figure, out, "layers")
    if "h_norm_min" in present:
        finding = Finding("Forward norms neither explode nor vanish", "(4.1)",
                          "1/2 ≤ ‖h_{i,l}‖, ‖g_{i,l}‖ ≤ O(L) at every layer, at initialization and (by (5.1)) "
                          "within the training radius.", [figure_name], notes=list(notes))
        lowest = view.ds["h_norm_min"].min(("step", "layer"))
        if view.has("g_norm_min"):
            lowest = np.minimum(lowest, view.ds["g_norm_min"].min(("step", "layer")))
        finding.assessment = threshold_verdict(view, lowest, HALF, "min over i, l, t of ‖h‖ and ‖g‖")
        if view.has("h_norm_max"):
            highest = float(view.ds["h_norm_max"].max())
            finding.numbers.append(f"largest ‖h_{{i,l}}‖ over every done point and step: {highest:.3g} "
                                   "(the O(L) upper bound has an unknown constant; a scan over L tests its growth)")
        findings.append(finding)
    if "fresh_randomness" in present:
        findings.append(_fresh(view, figure_name, notes))
    if "separability_ratio" in present:
        finding = Finding("Separability survives every layer", "(4.3)",
                          "(I − U_l U_lᵀ)h_{i,l+1} and (I − U_l U_lᵀ)h_{j,l+1} are (δ/2)-separable for all i ≠ j: "
                          "the separability divided by the data's δ stays at least 1/2 (needs m > n·L for the "
                          "projections to leave room).", [figure_name], notes=list(notes))
        finding.assessment = threshold_verdict(view, view.ds["separability_ratio"].min(("step", "layer")), HALF,
                                               "min over pairs, layers and steps of separability/δ")
        findings.append(finding)
    return findings


def _fresh(view: StoreView, figure_name: str, notes: list[str]) -> Finding:
    finding = Finding("Every layer brings fresh randomness", "(4.2)",
                      "‖(I − U_{l−1}U_{l−1}ᵀ)h_{i,l}‖ ≥ Ω̃(1/L²): the part of each hidden state outside the span "
                      "of all earlier ones decays at most as L⁻² with the depth (exponent in L at least −2).",
                      [figure_name], notes=list(notes))
    lowest = view.ds["fresh_randomness"].min(("step", "layer"))
    if DEPTH_AXIS in view.numeric_axes:
        series, _ = series_of(view, lowest, DEPTH_AXIS)
        finding.numbers += fit_numbers(series, "exponent of min fresh randomness in L")
        finding.assessment = combine(judged(series, lambda f: exponent_verdict(
            f, -2.0, "above", "the exponent of the fresh randomness in L")))
    else:
        values = lowest.values[np.isfinite(lowest.values)]
        finding.numbers.append(f"min over i, l, t of the fresh randomness: {values.min():.3g} "
                               f"(median over points {np.median(values):.3g})")
        finding.assessment = Assessment(Verdict.NOT_ENOUGH_RANGE,
                                        f"the bound is Ω̃(1/L²) with an unknown constant: testing it needs a scan "
                                        f"over `{DEPTH_AXIS}` with at least 3 values")
    return finding


def chains(view: StoreView, out: Path) -> list[Finding | Skipped]:
    """Chain norms against chain length, log y: exponential (√2 per layer) or polynomial? (4.4)–(4.6)."""
    title = "Chain norms against chain length"
    if not view.has("chain_norm_w"):
        return [Skipped(title, "the store has no `chain_norm_w` values (diagnostic `chain_norms` not run)")]
    worst = view.ds["chain_norm_w"].max("step")
    dims = sorted(view.scanned, key=lambda d: d != DEPTH_AXIS)
    series, notes = series_of(view, worst, "length", model="exponential", others=dims)
    with_b = view.has("chain_norm_b")
    b_width = with_b and WIDTH_AXIS in view.numeric_axes
    figure, axes = panels(1 + with_b + b_width, "(4.4)–(4.6): spectral norms of chains W D ⋯ D W, max over i, l2, t")
    draw(axes[0], series, symbol="r", model="exponential")
    lengths = np.asarray(view.ds["length"].values, dtype=float)
    anchor = next((float(np.nanmedian(s.y[0])) for s in series if np.isfinite(s.y[0]).any()), None)
    if anchor is not None:
        axes[0].plot(lengths, anchor * NAIVE_GROWTH ** (lengths - lengths[0]), color="0.5", linestyle=":",
                     label="naive: √2 per layer")
    finish(axes[0], r"chain length $l_1 - l_2 + 1$ (layers)", r"$\|W D_{l_1} W \cdots D_{l_2} W\|_2$", logy=True)
    finding = Finding(
        "Chains of ReLU layers do not blow up exponentially", "(4.4)",
        "‖W D_{i,l1} W ⋯ D_{i,l2} W‖_2 ≤ O(L³) (conjectured O(1)), although ‖DW‖_2 ≈ √2 would let a product of "
        "spectral norms grow as √2^length: the fitted growth factor per layer e^r should stay below √2.",
        notes=notes)
    finding.numbers += [f"W chains, {s.label}: growth factor per layer e^r = {math.exp(s.fit.slope):.3g} "
                        f"[{math.exp(s.fit.low):.3g}, {math.exp(s.fit.high):.3g}]" for s in series if s.fit]
    finding.assessment = combine(judged(series, lambda f: exponent_verdict(
        f, math.log(NAIVE_GROWTH), "below", "the exponential rate r of the W chains per layer (ln √2 = 0.347)")))
    findings: list[Finding | Skipped] = [finding]
    if with_b:
        b_worst = view.ds["chain_norm_b"].max("step")
        b_series, _ = series_of(view, b_worst, "length", model="power", others=dims)
        for index, line in enumerate(b_series):
            median_band(axes[1], line.x, line.y, line.label, color(index))
        finish(axes[1], r"chain length $l_1 - l_2 + 1$ (layers)", r"$\|B D_{l_1} W \cdots D_{l_2} W\|_2$", logy=True)
    if b_width:
        by_m, _ = series_of(view, view.ds["chain_norm_b"].max(("step", "length")), WIDTH_AXIS)
        draw(axes[2], by_m)
        m = np.asarray(view.ds[WIDTH_AXIS].values, dtype=float)
        first = next((float(np.nanmedian(s.y[0])) for s in by_m if np.isfinite(s.y[0]).any()), None)
        if first is not None:
            axes[2].plot(m, first * np.sqrt(m / m[0]), color="0.35", linestyle=":", label="∝ √m")
        width_axes(axes[2], view,
             r"$\max_{\rm length}\ \|B D \cdots D W\|_2$")
        b_finding = Finding(
            "Backward chains scale as √(m/d)", "(4.6), Fact 2.5",
            "‖B‖_2 ≈ √(m/d) and the chains behind it are O(1)-bounded, so ‖B D ⋯ D W‖_2 grows at most as √m: "
            "exponent in m at most 1/2.", notes=[])
        b_finding.numbers += fit_numbers(by_m, "exponent of max ‖B D ⋯ W‖_2 in m")
        b_finding.numbers += [f"max ‖B D ⋯ W‖_2 by m ({s.label}): {medians(s)}" for s in by_m]
        b_finding.assessment = combine(judged(by_m, lambda f: exponent_verdict(
            f, 0.5, "below", "the exponent of the B chains in m")))
        findings.append(b_finding)
    name = save(figure, out, "chains")
    for item in findings:
        item.figures.append(name)
    return findings


def semi_smoothness(view: StoreView, out: Path) -> list[Finding | Skipped]:
    """Theorem 4's two sides against ‖W'‖_2: the remainder and the two scales bounding it."""
    title = "Semi-smoothness (Theorem 4)"
    names = ("semi_smoothness_gap", "semi_smoothness_norm", "semi_smoothness_sqrt_f_norm", "semi_smoothness_m_norm2")
    if not view.has(*names):
        return [Skipped(title, "the store has no `semi_smoothness_*` values (diagnostic `semi_smoothness` not run)")]
    ds = view.ds
    norm = ds["semi_smoothness_norm"]
    m = ds["semi_smoothness_m_norm2"] / norm**2
    first_order = m ** (1 / 3) * ds["semi_smoothness_sqrt_f_norm"]
    right = first_order + ds["semi_smoothness_m_norm2"]
    gap = ds["semi_smoothness_gap"]
    figure, axes = panels(2 if WIDTH_AXIS in view.numeric_axes else 1,
                          "Theorem 4: remainder f(W+W') − f(W) − ⟨∇f, W'⟩ beside its bound's two terms")
    ax = axes[0]
    for label, values, marker, colour in (("|remainder| (left side)", np.abs(gap), "o", color(0)),
                                          (r"$m^{1/3}\sqrt{f}\,\|W'\|_2$", first_order, "^", color(1)),
                                          (r"$m\,\|W'\|_2^2$", ds["semi_smoothness_m_norm2"], "s", color(2))):
        x, y = xr.broadcast(norm, values)
        keep = np.isfinite(x.values) & np.isfinite(y.values) & (y.values > 0)
        ax.scatter(x.values[keep], y.values[keep], s=10, marker=marker, color=colour, alpha=0.6, label=label)
    finish(ax, r"$\|W'\|_2 = \tau/\sqrt{m}$", "value (loss units)", logx=True, logy=True)
    ratio = (gap / right).max("step")
    finding = Finding(
        "The loss is semi-smooth near the trajectory", "Theorem 4",
        "f(W + W') ≤ f(W) + ⟨∇f(W), W'⟩ + poly(ϱ) m^{1/3} √f(W) ‖W'‖_2 + poly(ρ) m ‖W'‖_2² for ‖W'‖_2 ≤ τ0/√m: "
        "the remainder divided by m^{1/3}√f‖W'‖ + m‖W'‖² stays below a constant that does not grow with m.")
    values = ratio.values[np.isfinite(ratio.values)]
    if values.size:
        finding.numbers.append(f"max over t of remainder / (m^(1/3)√f‖W'‖ + m‖W'‖²): largest {values.max():.3g}, "
                               f"median {np.median(values):.3g}")
    if WIDTH_AXIS in view.numeric_axes:
        series, notes = series_of(view, ratio, WIDTH_AXIS)
        draw(axes[1], series)
        width_axes(axes[1], view,
             r"$\max_t$ remainder / ($m^{1/3}\sqrt{f}\|W'\|_2 + m\|W'\|_2^2$)")
        finding.notes += notes + ["points with a negative remainder satisfy the bound trivially and are left out "
                                  "of the log-log fit"]
        finding.numbers += fit_numbers(series, "exponent of the ratio in m")
        finding.assessment = combine(judged(series, lambda f: exponent_verdict(
            f, 0.0, "below", "the exponent in m of remainder / (m^(1/3)√f‖W'‖ + m‖W'‖²)")))
    else:
        finding.assessment = Assessment(Verdict.NOT_ENOUGH_RANGE, "the constants are unknown: testing that the ratio "
                                        f"does not grow needs a width axis `{WIDTH_AXIS}`")
    finding.figures.append(save(figure, out, "semi_smoothness"))
    return [finding]
