"""What a report claim builds on: scaling-law claims and panels, fits with their intervals,
verdict rules, and the report's way of drawing series (docs/plugins.md, "Report claims").
``ScalingFit`` (with its ``FittedPanel``s) and ``LayerProfiles`` are the fits of the two generic
claims, ``Claim[ScalingFit]`` and ``Claim[LayerProfiles]``: what an override of their ``draw``,
``numbers``, ``notes`` or ``verdict`` is given.

Import it inside ``overparam_register_claims`` (or in the module that hook imports), not at a
plugin's top level: it loads matplotlib and scipy, which planning a run does not need.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from overparam._exports import lazy_names

_EXPORTS: dict[str, str] = {
    "ScalingLawClaim": "framework.report.scaling_claim",
    "ScalingPanel": "framework.report.scaling_claim",
    "ReferenceLine": "framework.report.scaling_claim",
    "ScalingFit": "framework.report.scaling_claim",
    "FittedPanel": "framework.report.scaling_claim",
    "LayerThresholdClaim": "framework.report.layers",
    "LayerProfiles": "framework.report.layers",
    "by_layer": "framework.report.layers",
    "series_selections": "framework.report.layers",
    "threshold_verdict": "framework.report.layers",
    "LineFit": "framework.report.fits",
    "MIN_REPLICAS": "framework.report.fits",
    "t_interval": "framework.report.fits",
    "geometric_interval": "framework.report.fits",
    "fit_power_law": "framework.report.fits",
    "fit_exponential": "framework.report.fits",
    "exponent_verdict": "framework.report.verdicts",
    "interval_verdict": "framework.report.verdicts",
    "color": "framework.report.plotting",
    "finish": "framework.report.plotting",
    "median_band": "framework.report.plotting",
    "MAX_SERIES": "framework.report.scaling",
    "Series": "framework.report.scaling",
    "medians": "framework.report.scaling",
    "decide": "framework.report.scaling",
    "draw_series": "framework.report.scaling",
    "fit_numbers": "framework.report.scaling",
    "judged": "framework.report.scaling",
    "scaling_axes": "framework.report.scaling",
    "series_of": "framework.report.scaling",
    "polynomial_not_exponential": "framework.report.scaling",
    "REPLICA_AXIS": "framework.contract.store_view",
    "WIDTH_AXIS": "framework.contract.store_view",
    "DEPTH_AXIS": "framework.contract.store_view",
}

__all__ = list(_EXPORTS)

if TYPE_CHECKING:
    from framework.contract.store_view import DEPTH_AXIS as DEPTH_AXIS
    from framework.contract.store_view import REPLICA_AXIS as REPLICA_AXIS
    from framework.contract.store_view import WIDTH_AXIS as WIDTH_AXIS
    from framework.report.fits import MIN_REPLICAS as MIN_REPLICAS
    from framework.report.fits import LineFit as LineFit
    from framework.report.fits import fit_exponential as fit_exponential
    from framework.report.fits import fit_power_law as fit_power_law
    from framework.report.fits import geometric_interval as geometric_interval
    from framework.report.fits import t_interval as t_interval
    from framework.report.layers import LayerProfiles as LayerProfiles
    from framework.report.layers import LayerThresholdClaim as LayerThresholdClaim
    from framework.report.layers import by_layer as by_layer
    from framework.report.layers import series_selections as series_selections
    from framework.report.layers import threshold_verdict as threshold_verdict
    from framework.report.plotting import color as color
    from framework.report.plotting import finish as finish
    from framework.report.plotting import median_band as median_band
    from framework.report.scaling import MAX_SERIES as MAX_SERIES
    from framework.report.scaling import Series as Series
    from framework.report.scaling import decide as decide
    from framework.report.scaling import draw_series as draw_series
    from framework.report.scaling import fit_numbers as fit_numbers
    from framework.report.scaling import medians as medians
    from framework.report.scaling import judged as judged
    from framework.report.scaling import scaling_axes as scaling_axes
    from framework.report.scaling import polynomial_not_exponential as polynomial_not_exponential
    from framework.report.scaling import series_of as series_of
    from framework.report.scaling_claim import FittedPanel as FittedPanel
    from framework.report.scaling_claim import ReferenceLine as ReferenceLine
    from framework.report.scaling_claim import ScalingFit as ScalingFit
    from framework.report.scaling_claim import ScalingLawClaim as ScalingLawClaim
    from framework.report.scaling_claim import ScalingPanel as ScalingPanel
    from framework.report.verdicts import exponent_verdict as exponent_verdict
    from framework.report.verdicts import interval_verdict as interval_verdict
else:
    __getattr__, __dir__ = lazy_names(globals(), _EXPORTS)
