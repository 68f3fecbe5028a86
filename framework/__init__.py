"""overparam's public API: what plugins and users import.

Plugins import from here only (``from framework import Generator, hookimpl, ...``), never from
the core's private modules.

The names are loaded on first use (PEP 562), so that ``import framework`` and the command line
start without importing torch, Dask or xarray; ``from framework import Generator`` imports
exactly the module that defines it.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "Component": "framework.contract.components",
    "Generator": "framework.contract.components",
    "Initializer": "framework.contract.components",
    "InitializerParams": "framework.contract.components",
    "Optimizer": "framework.contract.components",
    "OptimizerParams": "framework.contract.components",
    "Params": "framework.contract.components",
    "PipelinePath": "framework.contract.components",
    "check_component": "framework.plugin_system.contract_check",
    "resolve_device": "framework.engine.devices",
    "resolve_dtype": "framework.engine.devices",
    "DEFAULT_MODEL": "framework.contract.model",
    "Model": "framework.contract.model",
    "Diagnostic": "framework.contract.diagnostic",
    "Output": "framework.contract.diagnostic",
    "ProblemShape": "framework.contract.diagnostic",
    "Problem": "framework.engine.tensors",
    "HIDDEN": "framework.engine.tensors",
    "Weights": "framework.engine.tensors",
    "WeightLayout": "framework.engine.tensors",
    "aligned_rows": "framework.engine.tensors",
    "member_sum": "framework.engine.tensors",
    "per_member": "framework.engine.tensors",
    "ExpressionError": "framework.configuration.expressions",
    "evaluate": "framework.configuration.expressions",
    "hookimpl": "framework.plugin_system.hookspecs",
    "FIRST_INPUT_LAST_COORDINATE": "framework.engine.inputs",
    "first_input_separation": "framework.engine.inputs",
    "pad_to_unit_norm": "framework.engine.inputs",
    "ParamSpec": "framework.contract.parameters",
    "describe_params": "framework.contract.parameters",
    "Probe": "framework.engine.probe",
    "normal_per_member": "framework.engine.probe",
    "DuplicateComponentError": "framework.plugin_system.registry",
    "Entry": "framework.plugin_system.registry",
    "PluginError": "framework.plugin_system.registry",
    "PluginLoadError": "framework.plugin_system.registry",
    "Provider": "framework.plugin_system.registry",
    "Registry": "framework.plugin_system.registry",
    "UnknownComponentError": "framework.plugin_system.registry",
    "Forward": "framework.engine.network",
    "Network": "framework.engine.network",
    "ELMAN_DIMS": "framework.engine.rnn",
    "Elman": "framework.engine.rnn",
    "elman_weights": "framework.engine.rnn",
    "member_rows": "framework.engine.rnn",
    "closed_form_gradient": "framework.engine.rnn",
    "forward": "framework.engine.rnn",
    "loss": "framework.engine.rnn",
    "residual_tangent": "framework.engine.rnn",
    "seeded_generator": "framework.engine.seeds",
    "SparseScheduleParams": "framework.contract.sparse_schedule",
    "measured_steps": "framework.contract.sparse_schedule",
    "top_singular_value": "framework.engine.spectral",
    "extreme_eigenvalues": "framework.engine.spectral",
    "ExtremeEigenvalues": "framework.engine.spectral",
    "TangentKernel": "framework.engine.kernel",
    "auto_learning_rate": "framework.engine.step_size",
    "kernel_top_eigenvalue": "framework.engine.step_size",
    "Trajectory": "framework.execution.training",
    "log_schedule": "framework.planning.schedule",
    "train": "framework.execution.training",
    "Claim": "framework.contract.claim",
    "Column": "framework.contract.claim",
    "Assessment": "framework.report.verdicts",
    "Verdict": "framework.report.verdicts",
    "exponent_verdict": "framework.report.verdicts",
    "interval_verdict": "framework.report.verdicts",
    "LineFit": "framework.report.fits",
    "MIN_REPLICAS": "framework.report.fits",
    "t_interval": "framework.report.fits",
    "fit_exponential": "framework.report.fits",
    "fit_power_law": "framework.report.fits",
    "DEPTH_AXIS": "framework.report.view",
    "REPLICA_AXIS": "framework.report.view",
    "WIDTH_AXIS": "framework.report.view",
    "StoreView": "framework.report.view",
    "color": "framework.report.plotting",
    "finish": "framework.report.plotting",
    "median_band": "framework.report.plotting",
    "MAX_SERIES": "framework.report.scaling",
    "Series": "framework.report.scaling",
    "decide": "framework.report.scaling",
    "draw_series": "framework.report.scaling",
    "first_median": "framework.report.scaling",
    "fit_numbers": "framework.report.scaling",
    "judged": "framework.report.scaling",
    "medians": "framework.report.scaling",
    "polynomial_not_exponential": "framework.report.scaling",
    "scaling_axes": "framework.report.scaling",
    "series_of": "framework.report.scaling",
    "ReferenceLine": "framework.report.scaling_claim",
    "ScalingLawClaim": "framework.report.scaling_claim",
    "ScalingPanel": "framework.report.scaling_claim",
    "LayerThresholdClaim": "framework.report.layers",
    "by_layer": "framework.report.layers",
    "series_selections": "framework.report.layers",
    "threshold_verdict": "framework.report.layers",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    """Load a public name from the module that defines it, the first time it is asked for."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'framework' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
