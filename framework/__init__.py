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
    "Component": "framework.components",
    "Generator": "framework.components",
    "Initializer": "framework.components",
    "InitializerParams": "framework.components",
    "Optimizer": "framework.components",
    "OptimizerParams": "framework.components",
    "Params": "framework.components",
    "PipelinePath": "framework.components",
    "seeded_generator": "framework.components",
    "check_component": "framework.contract",
    "resolve_device": "framework.devices",
    "resolve_dtype": "framework.devices",
    "Diagnostic": "framework.diagnostics",
    "Output": "framework.diagnostics",
    "ProblemShape": "framework.diagnostics",
    "Problem": "framework.ensemble",
    "Weights": "framework.ensemble",
    "aligned_rows": "framework.ensemble",
    "member_sum": "framework.ensemble",
    "ExpressionError": "framework.expressions",
    "evaluate": "framework.expressions",
    "hookimpl": "framework.hookspecs",
    "FIRST_INPUT_LAST_COORDINATE": "framework.inputs",
    "first_input_separation": "framework.inputs",
    "pad_to_unit_norm": "framework.inputs",
    "ParamSpec": "framework.parameters",
    "ParameterError": "framework.parameters",
    "describe_params": "framework.parameters",
    "validate_params": "framework.parameters",
    "Probe": "framework.probe",
    "normal_per_member": "framework.probe",
    "DuplicateComponentError": "framework.registry",
    "Entry": "framework.registry",
    "PluginError": "framework.registry",
    "PluginLoadError": "framework.registry",
    "Provider": "framework.registry",
    "Registry": "framework.registry",
    "UnknownComponentError": "framework.registry",
    "Forward": "framework.rnn",
    "closed_form_gradient": "framework.rnn",
    "forward": "framework.rnn",
    "loss": "framework.rnn",
    "loss_and_gradient": "framework.rnn",
    "residual_tangent": "framework.rnn",
    "SparseScheduleParams": "framework.sparse_schedule",
    "measured_steps": "framework.sparse_schedule",
    "top_singular_value": "framework.spectral",
    "auto_learning_rate": "framework.step_size",
    "kernel_top_eigenvalue": "framework.step_size",
    "resolve_learning_rate": "framework.step_size",
    "Trajectory": "framework.training",
    "log_schedule": "framework.training",
    "train": "framework.training",
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
