"""The claims on a scan of the output scale α (plugins/diagnostics/output_scale_claims.py), against
exponents and crossings computed by hand on synthetic stores of exact power laws."""
from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from overparam import StoreView, Verdict
from framework.storage.store import STATUS_CODE, ZARR_FORMAT
from plugins.diagnostics.output_scale_claims import (
    KernelMovesAsInverseScale, WeightsMoveAsInverseScale, equal_at,
)

ALPHA = np.array([0.1, 0.316, 1.0, 3.16, 10.0, 100.0])


def scale_store(path, variable: str, lazy_slopes: tuple[float, ...], rich_slope: float = -0.3,
                uncentered_at_one: float = 2.5) -> StoreView:
    """A store over (alpha, centered, m = 64, seed): centered, seed s follows 2·α^(a_s) exactly for
    α >= 1 and 2·α^(rich_slope) below (a slope the judged fit must not see); uncentered, it is flat
    at ``uncentered_at_one``. The variable has two logged steps, 0 and its maximum."""
    seeds = len(lazy_slopes)
    values = np.zeros((ALPHA.size, 2, 1, seeds, 2))
    for s, slope in enumerate(lazy_slopes):
        values[:, 0, 0, s, 1] = np.where(ALPHA >= 1, 2 * ALPHA**slope, 2 * ALPHA**rich_slope)
        values[:, 1, 0, s, 1] = uncentered_at_one
    status = np.full((ALPHA.size, 2, 1, seeds), STATUS_CODE["done"], dtype="int8")
    dims = ("alpha", "centered", "m", "seed")
    xr.Dataset({"status": (dims, status), variable: ((*dims, "step"), values)},
               coords={"alpha": ALPHA, "centered": [True, False], "m": [64], "seed": np.arange(seeds),
                       "step": [0, 100]}).to_zarr(str(path), zarr_format=ZARR_FORMAT)
    return StoreView(path)


# Each seed's exact power law gives its own slope; the interval is mean ± t_{0.975,2}·sd/√3, t = 4.303:
#   (−1.02, −1.0, −0.98): −1 ± 0.0497 = [−1.050, −0.950], within 0.1 of −1      -> supported;
#   (−0.5, −0.55, −0.45): −0.5 ± 0.124 = [−0.624, −0.376], wholly beyond −0.9   -> contradicted;
#   (−0.85, −1.0, −1.15): −1 ± 0.373 = [−1.373, −0.627], reaches past the band -> inconclusive.
@pytest.mark.parametrize("slopes, verdict, low, high", [
    ((-1.02, -1.0, -0.98), Verdict.SUPPORTED, -1.0497, -0.9503),
    ((-0.5, -0.55, -0.45), Verdict.CONTRADICTED, -0.6241, -0.3759),
    ((-0.85, -1.0, -1.15), Verdict.INCONCLUSIVE, -1.3727, -0.6273),
])
@pytest.mark.parametrize("claim, variable", [(WeightsMoveAsInverseScale, "weight_distance_frobenius"),
                                             (KernelMovesAsInverseScale, "kernel_drift")])
def test_the_judged_exponent_is_the_centered_lazy_sides_within_its_margin(tmp_path, claim, variable, slopes,
                                                                         verdict, low, high):
    view = scale_store(tmp_path / "scale.zarr", variable, slopes)
    instance = claim()
    assert instance.missing(view) is None
    assessment = instance.verdict(view, instance.fit(view))
    assert assessment.verdict is verdict, assessment.reason
    estimate, interval_low, interval_high = assessment.measured
    assert estimate == pytest.approx(np.mean(slopes), abs=1e-9)
    assert (interval_low, interval_high) == pytest.approx((low, high), abs=1e-3)
    assert "fitted over alpha = 1 to 100" in assessment.reason


def test_the_paper_network_is_placed_where_the_centered_curve_reaches_its_value(tmp_path):
    """Centered medians 2/α, the uncentered α = 1 network at 2.5: 2/α = 2.5 at α = 0.8, which lies
    between the α values 0.316 and 1 of the grid; the rich side's 2·α^(−0.3) never reaches 2.5 there."""
    view = scale_store(tmp_path / "scale.zarr", "weight_distance_frobenius", (-1.0, -1.0, -1.0), rich_slope=-1.0)
    claim = WeightsMoveAsInverseScale()
    lines = [line for line in claim.numbers(view, claim.fit(view)) if "paper's network" in line]
    assert lines == ["the paper's network (uncentered, α = 1), m=64: max_t ‖W_t − W_0‖_F = 2.5, as the centered "
                     "network's at α ≈ 0.8"]


def test_equal_at_interpolates_a_power_law_exactly_and_refuses_what_no_pair_brackets():
    alpha = np.array([0.1, 1.0, 10.0])
    assert equal_at(alpha, 3 * alpha**-0.7, 3 * 0.4**-0.7) == pytest.approx(0.4, rel=1e-12)
    assert np.isnan(equal_at(alpha, 3 * alpha**-0.7, 100.0))
