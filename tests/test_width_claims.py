"""The claim on the width training needs (plugins/diagnostics/width_claims.py): m* against crossings
worked out by hand, and against a brute-force scan of a synthetic store whose f_T/f_0 is known
at every width."""
from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from overparam import StoreView, Verdict
from framework.storage.store import STATUS_CODE, ZARR_FORMAT
from plugins.diagnostics.width_claims import Outcome, WidthNeeded, needed_width

WIDTHS = np.array([8.0, 16.0, 32.0, 64.0])


def test_m_star_is_the_log_log_interpolation_across_the_crossing():
    """f_T/f_0 = 1e-2 at m = 16 and 1e-4 at m = 32: ε = 1e-3 lies halfway in ln ratio, so
    m* = √(16·32) = 22.627..., halfway in ln m."""
    found = needed_width(WIDTHS, np.array([1e-1, 1e-2, 1e-4, 1e-5]), 1e-3)
    assert found.outcome is Outcome.CROSSED and not found.recrossed
    assert found.width == pytest.approx(np.sqrt(16 * 32), rel=1e-12)
    # ε = 10^-2.5 lies a quarter of the way in ln ratio, so m* = 16·2^(1/4)
    quarter = needed_width(WIDTHS, np.array([1e-1, 1e-2, 1e-4, 1e-5]), 10**-2.5)
    assert quarter.width == pytest.approx(16 * 2**0.25, rel=1e-12)


def test_a_narrow_width_that_reaches_epsilon_before_a_wider_one_fails_does_not_count():
    """Theorem 1's quantifier: every wider width must reach ε. m = 8 reaches it, 16 does not, so
    m* lies between 16 and 32 (the same √(16·32)), and the replica is counted as recrossed."""
    found = needed_width(WIDTHS, np.array([1e-4, 1e-2, 1e-4, 1e-5]), 1e-3)
    assert found.outcome is Outcome.CROSSED and found.recrossed
    assert found.width == pytest.approx(np.sqrt(16 * 32), rel=1e-12)


def test_replicas_that_never_or_always_reach_epsilon_are_censored_not_given_a_width():
    never = needed_width(WIDTHS, np.array([1e-1, 1e-4, 1e-2, 1e-2]), 1e-3)
    always = needed_width(WIDTHS, np.array([1e-4, 1e-5, 1e-6, 1e-7]), 1e-3)
    assert never.outcome is Outcome.NEVER and np.isnan(never.width) and never.recrossed
    assert always.outcome is Outcome.ALWAYS and np.isnan(always.width)
    assert needed_width(WIDTHS, np.full(4, np.nan), 1e-3).outcome is Outcome.UNMEASURED


def test_a_width_not_measured_is_left_out_and_its_neighbours_interpolated():
    """m = 16 not done: the crossing is read between 8 (1e-2) and 32 (1e-4), halfway: m* = 16."""
    found = needed_width(WIDTHS, np.array([1e-2, np.nan, 1e-4, 1e-5]), 1e-3)
    assert found.width == pytest.approx(16.0, rel=1e-12)


# A synthetic store over (n, m, seed): f_T/f_0 = (m / w(n, s))^(-3) · 1e-3 exactly, so that
# f_T ≤ 1e-3·f_0 exactly when m ≥ w(n, s) = c_s · n^(b_s): the true m* is w(n, s).
N = np.array([2.0, 4.0, 8.0, 16.0])
M = np.array([4.0, 6.0, 8.0, 11.0, 16.0, 23.0, 32.0, 45.0, 64.0, 91.0, 128.0, 181.0, 256.0])
SLOPES = (0.6, 0.8, 1.0)
PREFACTORS = (3.0, 2.5, 2.2)


def true_width(n: np.ndarray, seed: int) -> np.ndarray:
    return PREFACTORS[seed] * n ** SLOPES[seed]


def width_store(path) -> StoreView:
    loss = np.ones((N.size, M.size, len(SLOPES), 2))
    for s in range(len(SLOPES)):
        loss[:, :, s, 1] = 1e-3 * (M[None, :] / true_width(N, s)[:, None]) ** -3.0
    status = np.full(loss.shape[:3], STATUS_CODE["done"], dtype="int8")
    dims = ("n", "m", "seed")
    xr.Dataset({"status": (dims, status), "loss": ((*dims, "step"), loss)},
               coords={"n": N, "m": M, "seed": np.arange(len(SLOPES)), "step": [0, 2000]}
               ).to_zarr(str(path), zarr_format=ZARR_FORMAT)
    return StoreView(path)


def brute_force_width(ratio_at, epsilon: float) -> float:
    """The smallest m on a fine geometric grid from which every wider grid width has ratio ≤ ε."""
    fine = np.geomspace(M[0], M[-1], 200_001)
    above = np.nonzero(ratio_at(fine) > epsilon)[0]
    return float(fine[above[-1] + 1])


def test_the_claim_finds_each_replicas_m_star_as_a_brute_force_scan_does(tmp_path):
    view = width_store(tmp_path / "width.zarr")
    claim = WidthNeeded()
    assert claim.missing(view) is None
    (instance,) = claim.instances(view)
    fitted = instance.fit(view)
    for s in range(len(SLOPES)):
        for n in N:
            expected = brute_force_width(lambda m: 1e-3 * (m / true_width(np.array(n), s)) ** -3.0, 1e-3)
            assert fitted.needed.sel(n=n, seed=s).item() == pytest.approx(expected, rel=1e-4)
    assert fitted.count(Outcome.CROSSED) == N.size * len(SLOPES)


def test_the_exponent_of_m_star_in_n_is_each_replicas_power_and_the_verdict_polynomial(tmp_path):
    """m* = c_s n^(b_s) exactly: the fitted exponent is the mean of 0.6, 0.8, 1.0 with the t
    interval 0.8 ± 4.303·0.2/√3 = [0.303, 1.297]; a pure power has no exponential part, r = 0,
    within ln 2/(16 − 2): supported."""
    view = width_store(tmp_path / "width.zarr")
    (instance,) = WidthNeeded().instances(view)
    fitted = instance.fit(view)
    (line,) = fitted.series
    assert line.fit.slope == pytest.approx(0.8, abs=1e-6)
    assert (line.fit.low, line.fit.high) == pytest.approx((0.8 - 0.4969, 0.8 + 0.4969), abs=1e-3)
    assessment = instance.verdict(view, fitted)
    assert assessment.verdict is Verdict.SUPPORTED, assessment.reason
    assert assessment.measured[0] == pytest.approx(0.0, abs=1e-6)
    assert any("b − 4.08 = -3.28 [-3.78, -2.78]" in text for text in instance.numbers(view, fitted))


def test_a_censored_replica_is_left_out_of_the_fit_and_counted(tmp_path):
    """The store's widest width fails for n = 16 in one replica: that m* is NaN, the note counts it."""
    view = width_store(tmp_path / "width.zarr")
    view.ds["loss"].loc[dict(n=16.0, m=256.0, seed=0, step=2000)] = 1.0
    (instance,) = WidthNeeded().instances(view)
    fitted = instance.fit(view)
    assert np.isnan(fitted.needed.sel(n=16.0, seed=0).item())
    assert fitted.count(Outcome.NEVER) == 1
    assert "m* > 256: 1" in instance.notes(view, fitted)[0]
    assert fitted.series[0].fit.points == N.size * len(SLOPES) - 1
