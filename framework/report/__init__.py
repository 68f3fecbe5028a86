"""Reports: figures, fitted scaling laws and verdicts that put a store beside the paper's claims.

Imports: every layer below but execution (a report reads a store; it runs nothing).

``build_report(store, out)`` reads a run store and writes ``report.md``, ``report.html`` and the
figures (PNG and SVG) into ``out`` (default: ``<store name>.report`` beside the store).
``fit_power_law`` is the scaling-law fit with its bootstrap interval over replicas.
"""
from framework.report.build import Report, build_report, default_out
from framework.report.fits import LineFit, fit_exponential, fit_power_law

__all__ = ["LineFit", "Report", "build_report", "default_out", "fit_exponential", "fit_power_law"]
