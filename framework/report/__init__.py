"""Reports: figures, fitted scaling laws and verdicts that put a store beside the paper's claims.

Imports: every layer below but execution (a report reads a store; it runs nothing).

``build_report(store, out)`` reads a run store and writes ``report.md``, ``report.html`` and the
figures (PNG and SVG) into ``out`` (default: ``<store name>.report`` beside the store), testing
the claims the plugins register (``overparam.Claim``); ``assess_claims`` runs given claims on a
``StoreView``. ``fit_power_law`` is the scaling-law fit with its t interval over
replicas; ``ScalingLawClaim`` and ``LayerThresholdClaim`` are the generic claims built on it.
The package names no store variable of any diagnostic: what it draws, the claims ask for.
"""
from framework.report.assess import Assessed, assess_claims
from framework.report.build import Report, build_report, default_out
from framework.report.fits import LineFit, fit_exponential, fit_power_law

__all__ = ["Assessed", "LineFit", "Report", "assess_claims", "build_report", "default_out", "fit_exponential",
           "fit_power_law"]
