"""Every fit the report judges by covers the truth at its nominal rate (issue 16).

Each test makes many data sets with a known exponent, growth rate or rate ratio, and the noise
a scan has (a random offset per replica, since a replica's points share its data and streams,
and noise per point), fits each, and counts how often the 95% interval contains the truth.
With 1,000 data sets the count's standard error is 0.7%, so a correct method lands in
[0.925, 0.975] except about once in 2,000 runs (3.5 standard errors). The cluster bootstrap
over three replicas that this replaced covered 2/3 in 73% of 400 such data sets (measured once,
with the same noise, at nominal 95%).
"""
from __future__ import annotations

import numpy as np
import pytest

from framework.report.fits import LEVEL, fit_exponential, fit_growth, fit_power_law, t_interval
from plugins.diagnostics.loss_claims import phases

DATA_SETS = 1000
WIDTHS = 64.0 * 2.0 ** np.arange(7)


def coverage(covered: list[bool]) -> float:
    return float(np.mean(covered))


def noisy(exact: np.ndarray, rng: np.random.Generator, replicas: int, noise: float, heavy: bool = False) -> np.ndarray:
    """``exact`` ``[n_x]`` times a log-normal factor per replica and one per point: ``[n_x, replicas]``."""
    offsets = rng.normal(0, noise, size=(1, replicas))
    points = (rng.standard_t(5, size=(exact.size, replicas)) * noise / np.sqrt(5 / 3) if heavy
              else rng.normal(0, noise, size=(exact.size, replicas)))
    return exact[:, None] * np.exp(offsets + points)


@pytest.mark.parametrize("replicas", [3, 5, 10])
def test_power_law_interval_covers_the_exponent_at_its_nominal_rate(replicas):
    rng = np.random.default_rng(replicas)
    exponent = 2 / 3
    covered = [fit_power_law(WIDTHS, noisy(3.0 * WIDTHS**exponent, rng, replicas, 0.2)).contains(exponent)
               for _ in range(DATA_SETS)]
    assert 0.925 <= coverage(covered) <= 0.975, coverage(covered)


def test_power_law_interval_covers_the_mean_exponent_when_each_replica_has_its_own():
    """A replica's exponent may itself vary (its data set is its own): the interval is for their mean."""
    rng = np.random.default_rng(11)
    covered = []
    for _ in range(DATA_SETS):
        exponents = -0.5 + rng.normal(0, 0.05, size=4)
        y = 2.0 * WIDTHS[:, None] ** exponents[None, :] * np.exp(rng.normal(0, 0.1, size=(WIDTHS.size, 4)))
        covered.append(fit_power_law(WIDTHS, y).contains(-0.5))
    assert 0.925 <= coverage(covered) <= 0.975, coverage(covered)


def test_power_law_interval_keeps_its_rate_under_heavy_tailed_noise():
    rng = np.random.default_rng(5)
    covered = [fit_power_law(WIDTHS, noisy(WIDTHS**0.5, rng, 5, 0.2, heavy=True)).contains(0.5)
               for _ in range(DATA_SETS)]
    assert 0.915 <= coverage(covered) <= 0.985, coverage(covered)


def test_exponential_interval_covers_the_growth_rate():
    rng = np.random.default_rng(2)
    length = np.arange(1.0, 9.0)
    covered = [fit_exponential(length, noisy(4.0 * np.exp(0.2 * length), rng, 4, 0.1)).contains(0.2)
               for _ in range(DATA_SETS)]
    assert 0.925 <= coverage(covered) <= 0.975, coverage(covered)


def test_growth_fit_covers_the_exponential_rate_net_of_the_power():
    """ln y = a + b ln L + r L: a polynomial of degree 3 times e^{0.02 L}; the interval is for r."""
    rng = np.random.default_rng(3)
    depth = np.array([2.0, 4, 8, 16, 32, 64])
    exact = depth**3 * np.exp(0.02 * depth)
    covered_rate, covered_power = [], []
    for _ in range(DATA_SETS):
        fit = fit_growth(depth, noisy(exact, rng, 4, 0.1))
        covered_rate.append(fit.exponential[1] <= 0.02 <= fit.exponential[2])
        covered_power.append(fit.power[1] <= 3.0 <= fit.power[2])
    assert 0.925 <= coverage(covered_rate) <= 0.975, coverage(covered_rate)
    assert 0.925 <= coverage(covered_power) <= 0.975, coverage(covered_power)


def test_t_interval_is_the_textbook_one():
    """Against the t table: t_{0.975, 3} = 3.182446."""
    values = np.array([1.0, 2.0, 4.0, 5.0])
    mean, low, high = t_interval(values)
    half = 3.182446 * values.std(ddof=1) / 2
    assert LEVEL == 0.95 and mean == 3.0
    assert low == pytest.approx(3.0 - half, abs=1e-5) and high == pytest.approx(3.0 + half, abs=1e-5)
    assert np.isnan(t_interval(values[:2])[1])  # two replicas: no interval


# --- the rate ratio that judges linear convergence ---------------------------------------------

STEPS = np.unique(np.round(np.geomspace(1, 1500, 30))).astype(float)
LOGGED = np.concatenate([[0.0], STEPS])


def linear_trajectory(rng: np.random.Generator, rate: float, noise: float) -> np.ndarray:
    """A fast first phase (rate 10x for 50 steps) then a linear one at ``rate``, with noise in ln f."""
    log_f = -np.minimum(LOGGED, 50) * 10 * rate - np.maximum(LOGGED - 50, 0) * rate
    return np.exp(log_f + rng.normal(0, noise, size=LOGGED.size) * (LOGGED > 0))


def power_trajectory(rng: np.random.Generator, power: float, noise: float) -> np.ndarray:
    """Sublinear decay f = (1 + t)^(−p), with noise in ln f."""
    return (1 + LOGGED) ** -power * np.exp(rng.normal(0, noise, size=LOGGED.size) * (LOGGED > 0))


def test_rate_ratio_is_one_for_linear_decay_and_one_half_for_any_power_law():
    """Noise-free: q = r_late/r_middle is exactly 1 on a linear phase, and the power-law prediction
    the claim's bound is built from matches a power-law trajectory of any order."""
    rng = np.random.default_rng(0)
    linear = phases(LOGGED, linear_trajectory(rng, 0.01, 0.0))
    assert linear.ratio == pytest.approx(1.0, rel=1e-9) and linear.first > 2 * linear.middle
    for power in (0.5, 1.0, 2.0):
        decay = phases(LOGGED, np.where(LOGGED > 0, LOGGED, 1.0) ** -power)  # f = t^(-p) exactly at t > 0
        assert decay.ratio == pytest.approx(decay.power_law_ratio, rel=1e-9)
        assert 0.45 < decay.power_law_ratio < 0.55


def test_rate_ratio_interval_covers_its_mean_on_noisy_linear_runs():
    """Replicas with their own rate and noisy logs: the interval covers the population mean of q,
    found by simulating 10,000 replicas."""
    rng = np.random.default_rng(7)

    def replica() -> float:
        return phases(LOGGED, linear_trajectory(rng, rng.uniform(0.004, 0.008), 0.05)).ratio

    truth = float(np.mean([replica() for _ in range(10_000)]))
    covered = []
    for _ in range(DATA_SETS):
        _, low, high = t_interval(np.array([replica() for _ in range(4)]))
        covered.append(low <= truth <= high)
    assert abs(truth - 1) < 0.01
    assert 0.925 <= coverage(covered) <= 0.975, coverage(covered)


def test_power_law_decay_is_almost_never_judged_linear():
    """The claim's rule (the interval of q above √q_power) on sublinear runs of random order:
    supported at most at the interval's one-sided error rate, 2.5% (3% allows for the count's noise)."""
    rng = np.random.default_rng(9)
    supported = []
    for _ in range(DATA_SETS):
        found = [phases(LOGGED, power_trajectory(rng, rng.uniform(0.5, 3), 0.05)) for _ in range(4)]
        _, low, _ = t_interval(np.array([p.ratio for p in found]))
        supported.append(low > np.sqrt(np.median([p.power_law_ratio for p in found])))
    assert coverage(supported) <= 0.03
