"""overparam's implementation: the core's layers (docs/architecture.md).

The public API is ``overparam`` (``import overparam``), not this package. The names this
package exported up to API version 2 (``from framework import Generator``) still load, each
with a ``DeprecationWarning`` that says where it lives now (docs/plugins.md, "Compatibility");
a name that left the public API loads from where it is defined, with a warning saying so.
"""
from __future__ import annotations

import importlib
import warnings
from typing import Any

__version__ = "0.1.0"

_PUBLIC_HOMES = ("overparam", "overparam.engine", "overparam.claims", "overparam.testing")
# The names of API version 2, by the module that defined them then.
_FORMER_EXPORTS: dict[str, str] = {
    "Component": "framework.contract.components", "Generator": "framework.contract.components",
    "Initializer": "framework.contract.components", "InitializerParams": "framework.contract.components",
    "Optimizer": "framework.contract.components", "OptimizerParams": "framework.contract.components",
    "Params": "framework.contract.components", "PipelinePath": "framework.contract.components",
    "check_component": "framework.plugin_system.contract_check", "resolve_device": "framework.engine.devices",
    "resolve_dtype": "framework.engine.devices", "DEFAULT_MODEL": "framework.contract.model",
    "Model": "framework.contract.model", "Diagnostic": "framework.contract.diagnostic",
    "Output": "framework.contract.diagnostic", "ProblemShape": "framework.contract.diagnostic",
    "Problem": "framework.engine.tensors", "HIDDEN": "framework.engine.tensors", "Weights": "framework.engine.tensors",
    "WeightLayout": "framework.engine.tensors", "aligned_rows": "framework.engine.tensors",
    "member_sum": "framework.engine.tensors", "per_member": "framework.engine.tensors",
    "ExpressionError": "framework.configuration.expressions", "evaluate": "framework.configuration.expressions",
    "hookimpl": "framework.plugin_system.hookspecs", "FIRST_INPUT_LAST_COORDINATE": "framework.engine.inputs",
    "first_input_separation": "framework.engine.inputs", "pad_to_unit_norm": "framework.engine.inputs",
    "ParamSpec": "framework.contract.parameters", "describe_params": "framework.contract.parameters",
    "Probe": "framework.engine.probe", "normal_per_member": "framework.engine.probe",
    "DuplicateComponentError": "framework.plugin_system.registry", "Entry": "framework.plugin_system.registry",
    "PluginError": "framework.plugin_system.registry", "PluginLoadError": "framework.plugin_system.registry",
    "Provider": "framework.plugin_system.registry", "Registry": "framework.plugin_system.registry",
    "UnknownComponentError": "framework.plugin_system.registry", "Forward": "framework.engine.network",
    "Network": "framework.engine.network", "ELMAN_DIMS": "framework.engine.rnn", "Elman": "framework.engine.rnn",
    "elman_weights": "framework.engine.rnn", "member_rows": "framework.engine.rnn",
    "closed_form_gradient": "framework.engine.rnn", "forward": "framework.engine.rnn", "loss": "framework.engine.rnn",
    "residual_tangent": "framework.engine.rnn", "seeded_generator": "framework.engine.seeds",
    "SparseScheduleParams": "framework.contract.sparse_schedule",
    "measured_steps": "framework.contract.sparse_schedule", "top_singular_value": "framework.engine.spectral",
    "extreme_eigenvalues": "framework.engine.spectral", "ExtremeEigenvalues": "framework.engine.spectral",
    "TangentKernel": "framework.engine.kernel", "auto_learning_rate": "framework.engine.step_size",
    "kernel_top_eigenvalue": "framework.engine.step_size", "Trajectory": "framework.execution.training",
    "log_schedule": "framework.planning.schedule", "train": "framework.execution.training",
    "Claim": "framework.contract.claim", "Column": "framework.contract.claim",
    "Assessment": "framework.contract.verdicts", "Verdict": "framework.contract.verdicts",
    "exponent_verdict": "framework.report.verdicts", "interval_verdict": "framework.report.verdicts",
    "LineFit": "framework.report.fits", "MIN_REPLICAS": "framework.report.fits", "t_interval": "framework.report.fits",
    "fit_exponential": "framework.report.fits", "fit_power_law": "framework.report.fits",
    "DEPTH_AXIS": "framework.contract.store_view", "REPLICA_AXIS": "framework.contract.store_view",
    "WIDTH_AXIS": "framework.contract.store_view", "StoreView": "framework.contract.store_view",
    "color": "framework.report.plotting", "finish": "framework.report.plotting",
    "median_band": "framework.report.plotting", "MAX_SERIES": "framework.report.scaling",
    "Series": "framework.report.scaling", "decide": "framework.report.scaling",
    "draw_series": "framework.report.scaling", "first_median": "framework.report.scaling",
    "fit_numbers": "framework.report.scaling", "judged": "framework.report.scaling",
    "medians": "framework.report.scaling", "polynomial_not_exponential": "framework.report.scaling",
    "scaling_axes": "framework.report.scaling", "series_of": "framework.report.scaling",
    "ReferenceLine": "framework.report.scaling_claim", "ScalingLawClaim": "framework.report.scaling_claim",
    "ScalingPanel": "framework.report.scaling_claim", "LayerThresholdClaim": "framework.report.layers",
    "by_layer": "framework.report.layers", "series_selections": "framework.report.layers",
    "threshold_verdict": "framework.report.layers",
}


def public_home(name: str) -> str | None:
    """The ``overparam`` module that exports ``name`` now, or None where it left the public API."""
    for home in _PUBLIC_HOMES:
        if name in getattr(importlib.import_module(home), "__all__", ()):
            return home
    return None


def __getattr__(name: str) -> Any:
    """A name of API version 2, loaded with a ``DeprecationWarning`` naming its new place."""
    if name not in _FORMER_EXPORTS:
        raise AttributeError(f"module 'framework' has no attribute {name!r}; the public API is `import overparam`")
    home = public_home(name)
    if home is not None:
        value = getattr(importlib.import_module(home), name)
        advice = f"import it from {home} (`from {home} import {name}`)"
    else:
        value = getattr(importlib.import_module(_FORMER_EXPORTS[name]), name)
        advice = (f"it is no longer part of the public API; copy what you need, or import it from "
                  f"{_FORMER_EXPORTS[name]} at your own risk (it may change without notice)")
    warnings.warn(f"`from framework import {name}` is deprecated since overparam API version 3: {advice}; "
                  "see docs/plugins.md, 'Compatibility'", DeprecationWarning, stacklevel=2)
    return value
