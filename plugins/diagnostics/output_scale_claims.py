"""The report's claims on a scan of a model's ``output_scale`` α: lazy training as α grows (Chizat,
Oyallon and Bach, "On lazy training in differentiable programming", NeurIPS 2019).

Training α (h(W) − h(W0)) on the loss / α², GD's distance from W0 and the tangent kernel's relative
change fall as 1/α for a model whose Jacobian is Lipschitz (their Theorem 2.3 and its corollaries):
exponent −1 in α. Each claim reads a pipeline's grid axis ``alpha`` (the values of ``output_scale``)
and, where the pipeline scans it, ``centered`` (``output_centered``); it draws every series over the
whole scan, the uncentered networks and the rich side included, and is judged on the centered
networks from α = ``LAZY_FROM`` on, where the theory speaks: the exponent is −1 when its whole 95%
interval lies within ``MARGIN`` of −1 (supported), is not when the interval lies wholly outside
that band (contradicted), and the data decide neither way otherwise (inconclusive). The ReLU network
is not Lipschitz-smooth: its Jacobian jumps where a sign flips, which the kernel's claim tests.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from overparam import Assessment, StoreView, Verdict
from overparam.claims import (
    LineFit, ReferenceLine, ScalingFit, ScalingLawClaim, ScalingPanel, Series, decide, fit_numbers, judged, series_of,
)

SCALE_AXIS = "alpha"  # the grid axis a pipeline scans output_scale along
CENTERED_AXIS = "centered"  # the grid axis it scans output_centered along, if any
LAZY_FROM = 1.0  # the smallest α of the judged fit: the lazy side, where the 1/α law is stated
MARGIN = 0.1  # how far from −1 an exponent's interval may reach and still count as −1
INVERSE = ReferenceLine(-1.0, "∝ 1/α (through first point)")


def within_margin(fit: LineFit, what: str) -> Assessment:
    """Supported when the exponent's whole interval lies within ``MARGIN`` of −1, contradicted when
    it lies wholly outside, inconclusive otherwise (an equivalence test with a stated margin)."""
    low, high = -1.0 - MARGIN, -1.0 + MARGIN
    if not fit.has_interval:
        return Assessment(Verdict.NOT_ENOUGH_REPLICAS, f"{what} is {fit.slope:.3g} from {fit.replicas} replica(s); "
                          "an interval needs more")
    measured = (f"{what} is {fit.slope:.3g}, 95% interval [{fit.low:.3g}, {fit.high:.3g}] over {fit.replicas} "
                "replicas")
    number = (float(fit.slope), float(fit.low), float(fit.high))
    if low <= fit.low and fit.high <= high:
        return Assessment(Verdict.SUPPORTED, f"{measured}: the whole interval is within {MARGIN:g} of −1", number)
    if fit.high < low or fit.low > high:
        return Assessment(Verdict.CONTRADICTED, f"{measured}: the whole interval is farther than {MARGIN:g} from −1 "
                          "(over the measured range)", number)
    return Assessment(Verdict.INCONCLUSIVE, f"{measured}: the interval reaches beyond {MARGIN:g} from −1 without "
                      "lying wholly outside, so the data decide neither way", number)


@dataclass(frozen=True)
class ScaleFit(ScalingFit):
    """The panels over the whole scan, and the judged panel's values and its series on the lazy
    side (the centered networks, α ≥ ``LAZY_FROM``), which the verdict and the numbers read."""

    judged: ScalingPanel
    values: xr.DataArray
    lazy: list[Series]


class LazyAsScaleGrows(ScalingLawClaim):
    """A quantity against the output scale α, judged as exponent −1 on the centered networks for α ≥ ``LAZY_FROM``."""

    axis = SCALE_AXIS
    bound = -1.0

    def fit(self, view: StoreView) -> ScaleFit:
        panel = next(panel for panel in self.panels if panel.judged)
        values = panel.values(view)
        lazy = values.sel({CENTERED_AXIS: True}) if CENTERED_AXIS in values.dims else values
        lazy = lazy.sel({SCALE_AXIS: lazy[SCALE_AXIS] >= LAZY_FROM})
        return ScaleFit(super().fit(view).panels, panel, values, series_of(view, lazy, SCALE_AXIS)[0])

    def verdict(self, view: StoreView, fitted: ScaleFit) -> Assessment:
        what = f"the exponent of {fitted.judged.label} in α (centered, α ≥ {LAZY_FROM:g})"
        return decide(fitted.lazy, judged(fitted.lazy, lambda fit: within_margin(fit, what)))

    def numbers(self, view: StoreView, fitted: ScaleFit) -> list[str]:
        judged_fits = fit_numbers(fitted.lazy, f"exponent of {fitted.judged.label} in α, centered, α ≥ {LAZY_FROM:g}")
        return judged_fits + paper_network(view, fitted.judged, fitted.values) + super().numbers(view, fitted)


def paper_network(view: StoreView, panel: ScalingPanel, values: xr.DataArray) -> list[str]:
    """Where the paper's network (uncentered, α = 1) lies on the centered networks' α axis: the α at
    which the centered medians, interpolated log-log, equal its median (one line per other selection)."""
    if CENTERED_AXIS not in values.dims or False not in values[CENTERED_AXIS].values \
            or 1.0 not in values[SCALE_AXIS].values:
        return []
    lines = []
    paper = values.sel({CENTERED_AXIS: False, SCALE_AXIS: 1.0})
    centered = values.sel({CENTERED_AXIS: True})
    others = [dim for dim in view.scanned if dim not in (SCALE_AXIS, CENTERED_AXIS) and dim in values.dims]
    for selection in view.combinations(others):
        own = float(np.nanmedian(paper.sel(selection).values))  # over the replicas
        curve = np.nanmedian(view.replicas(centered.sel(selection), SCALE_AXIS), axis=1)
        at = equal_at(np.asarray(centered[SCALE_AXIS].values, dtype=float), curve, own)
        where = view.label(selection) or "all points"
        place = f"as the centered network's at α ≈ {at:.2g}" if np.isfinite(at) else "outside the centered range"
        lines.append(f"the paper's network (uncentered, α = 1), {where}: {panel.label} = {own:.3g}, {place}")
    return lines


def equal_at(alpha: np.ndarray, curve: np.ndarray, value: float) -> float:
    """The α at which ``curve`` (medians over ``alpha``) equals ``value``, interpolating ln curve
    linearly in ln α between the first pair of neighbouring α that brackets it; NaN where none does."""
    for a, b, fa, fb in zip(alpha[:-1], alpha[1:], curve[:-1], curve[1:]):
        if not (fa > 0 and fb > 0 and value > 0) or (fa - value) * (fb - value) > 0 or fa == fb:
            continue
        share = (np.log(value) - np.log(fa)) / (np.log(fb) - np.log(fa))
        return float(np.exp(np.log(a) + share * (np.log(b) - np.log(a))))
    return float("nan")


class WeightsMoveAsInverseScale(LazyAsScaleGrows):
    """Largest distance of W from W0 over training against the output scale α: lazy training."""

    name = "lazy_distance"
    title = "The weights move as 1/α"
    paper_ref = "Chizat, Oyallon and Bach 2019, Theorem 2.3"
    statement = ("Training α (h(W) − h(W0)) on the loss scaled by 1/α², GD stays within O(1/α) of W0: "
                 "max_t ‖W_t − W_0‖_F falls as 1/α as α grows (exponent −1, judged on the centered networks for "
                 f"α ≥ {LAZY_FROM:g}). Uncentered, α h(W) must first undo its initial output, and its distance "
                 "stops falling; its α = 1 is the paper's network (Definition 2.3).")
    figure = "lazy_distance"
    figure_title = "Distance from W0 against the output scale α (loss / α²), max over training"
    order = 120
    panels = (
        ScalingPanel("weight_distance_frobenius", reduce="max", name="max_t ‖W_t − W_0‖_F", judged=True,
                     listed="fit and medians", ylabel=r"$\max_t\ \|W_t-W_0\|_F$", references=(INVERSE,)),
        ScalingPanel("loss", reduce="final", name="f(W_T)", ylabel=r"$f(W_T)$ (the loss / $\alpha^2$)"),
    )


class KernelMovesAsInverseScale(LazyAsScaleGrows):
    """Largest relative change of the tangent kernel over training against the output scale α."""

    name = "lazy_kernel"
    title = "The tangent kernel moves as 1/α"
    paper_ref = "Chizat, Oyallon and Bach 2019, Theorem 2.3"
    statement = ("For a model whose Jacobian is Lipschitz, the tangent kernel moves by O(‖W − W0‖) = O(1/α): "
                 "max_t ‖K_t − K_0‖_F/‖K_0‖_F falls as 1/α (exponent −1, judged on the centered networks for "
                 f"α ≥ {LAZY_FROM:g}), and so do the ReLU signs that flip and the gap to the linearized twin. "
                 "The ReLU network's Jacobian is not Lipschitz: it jumps where a sign flips.")
    figure = "lazy_kernel"
    figure_title = "Kernel drift, sign flips and the gap to the linearized twin against the output scale α"
    order = 121
    panels = (
        ScalingPanel("kernel_drift", reduce="max", name="max_t ‖K_t − K_0‖_F/‖K_0‖_F", judged=True,
                     listed="fit and medians", ylabel=r"$\max_t\ \|K_t-K_0\|_F/\|K_0\|_F$", references=(INVERSE,)),
        ScalingPanel("dprime_max", reduce="max", name="max_t ‖D′‖_0", ylabel=r"$\max_t\ \|D'\|_0$",
                     references=(INVERSE,)),
        ScalingPanel("twin_prediction_gap", reduce="max", name="max_t ‖r_t − r_lin,t‖/‖r_0‖",
                     ylabel=r"$\max_t\ \|r_t-r^{\mathrm{lin}}_t\|/\|r_0\|$", references=(INVERSE,)),
    )
