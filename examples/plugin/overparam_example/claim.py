"""`w_norm_settles`: a report claim about the example diagnostic's variable, ``w_spectral_norm``.

At the paper's initialization (Definition 2.3, W ~ N(0, 2/m) entrywise) the spectral norm of
the recurrent weights tends to 2√2 as m grows (the spectrum's edge of a square Gaussian matrix, 2σ√m
with σ² = 2/m);
training moves W by at most poly(ϱ)/√m in spectral norm (Theorems 3–4), so the distance of
‖W_t‖_2 from 2√2 should shrink as the network widens. The claim fits the largest such distance
over training against m as a power law and asks that its exponent be at most 0.

It is an ``overparam.claims.ScalingLawClaim`` with one panel; the panel's quantity is derived from the
store variable (the distance from 2√2, not the norm itself), so it overrides ``values``.
"""
from __future__ import annotations

import math

import xarray as xr

from overparam import Column, StoreView
from overparam.claims import ReferenceLine, ScalingLawClaim, ScalingPanel

EDGE = 2 * math.sqrt(2)


class EdgeDistance(ScalingPanel):
    """max_t |‖W_t‖_2 − 2√2| per grid point, from the stored ‖W_t‖_2."""

    def values(self, view: StoreView) -> xr.DataArray:
        """The distance from 2√2, largest over the logged steps: one value per grid point."""
        distance: xr.DataArray = abs(view.ds[self.variable] - EDGE).max("step")
        return distance


class WNormSettles(ScalingLawClaim):
    """‖W_t‖_2 approaches 2√2 as m grows: max_t |‖W_t‖_2 − 2√2| against m, exponent at most 0."""

    name = "w_norm_settles"
    title = "The recurrent weights' spectral norm settles at 2√2"
    paper_ref = "Definition 2.3, Theorems 3–4"
    statement = ("W0 ~ N(0, 2/m) has ‖W0‖_2 → 2√2 as m grows, and training stays within poly(ϱ)/√m of W0 in "
                 "spectral norm: max_t |‖W_t‖_2 − 2√2| shrinks as m grows (exponent in m at most 0).")
    figure = "w_spectral_norm"
    figure_title = r"$\|W_t\|_2$ against $2\sqrt{2}$: largest distance over training (median over seeds)"
    panels = (
        EdgeDistance("w_spectral_norm", name="max_t |‖W_t‖_2 − 2√2|", judged=True, listed="fit and medians",
                     ylabel=r"$\max_t\ |\,\|W_t\|_2 - 2\sqrt{2}\,|$",
                     references=(ReferenceLine(-0.5, "∝ m^(−1/2) (through first point)"),)),
    )
    bound = 0.0
    allowed = "below"
    columns = (Column("||W||_2", "w_spectral_norm", "final"),)
