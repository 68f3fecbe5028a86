"""Reports: figures, fitted scaling laws and verdicts that put a store beside the paper's claims.

Imports: every layer below but execution (a report reads a store; it runs nothing).

``build_report(store, out)`` reads a run store and writes ``report.md``, ``report.html`` and the
figures (PNG and SVG) into ``out`` (default: ``<store name>.report`` beside the store), testing
the claims the plugins register (``overparam.Claim``); ``assess_claims`` runs given claims on a
``StoreView``. ``fit_power_law`` is the scaling-law fit with its t interval over
replicas; ``ScalingLawClaim`` and ``LayerThresholdClaim`` are the generic claims built on it.
The package names no store variable of any diagnostic: what it draws, the claims ask for.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from framework.report.assess import Assessed, assess_claims
    from framework.report.build import Report, build_report, default_out
    from framework.report.fits import LineFit, fit_exponential, fit_power_law

_HOMES = {"Assessed": "assess", "assess_claims": "assess", "Report": "build", "build_report": "build",
          "default_out": "build", "LineFit": "fits", "fit_exponential": "fits", "fit_power_law": "fits"}
"""Loaded on first use: ``overparam show`` (``framework.report.show``) needs none of them, and
they bring matplotlib."""

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"framework.report.{_HOMES[name]}"), name)
