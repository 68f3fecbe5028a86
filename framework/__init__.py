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
    "seeded_generator": "framework.contract.components",
    "check_component": "framework.plugin_system.contract_check",
    "resolve_device": "framework.engine.devices",
    "resolve_dtype": "framework.engine.devices",
    "Diagnostic": "framework.contract.diagnostic",
    "Output": "framework.contract.diagnostic",
    "ProblemShape": "framework.contract.diagnostic",
    "Problem": "framework.engine.tensors",
    "Weights": "framework.engine.tensors",
    "aligned_rows": "framework.engine.tensors",
    "member_sum": "framework.engine.tensors",
    "ExpressionError": "framework.configuration.expressions",
    "evaluate": "framework.configuration.expressions",
    "hookimpl": "framework.plugin_system.hookspecs",
    "FIRST_INPUT_LAST_COORDINATE": "framework.engine.inputs",
    "first_input_separation": "framework.engine.inputs",
    "pad_to_unit_norm": "framework.engine.inputs",
    "ParamSpec": "framework.contract.parameters",
    "ParameterError": "framework.contract.parameters",
    "describe_params": "framework.contract.parameters",
    "validate_params": "framework.contract.parameters",
    "Probe": "framework.engine.probe",
    "normal_per_member": "framework.engine.probe",
    "DuplicateComponentError": "framework.plugin_system.registry",
    "Entry": "framework.plugin_system.registry",
    "PluginError": "framework.plugin_system.registry",
    "PluginLoadError": "framework.plugin_system.registry",
    "Provider": "framework.plugin_system.registry",
    "Registry": "framework.plugin_system.registry",
    "UnknownComponentError": "framework.plugin_system.registry",
    "Forward": "framework.engine.rnn",
    "closed_form_gradient": "framework.engine.rnn",
    "forward": "framework.engine.rnn",
    "loss": "framework.engine.rnn",
    "loss_and_gradient": "framework.engine.rnn",
    "residual_tangent": "framework.engine.rnn",
    "SparseScheduleParams": "framework.contract.sparse_schedule",
    "measured_steps": "framework.contract.sparse_schedule",
    "top_singular_value": "framework.engine.spectral",
    "auto_learning_rate": "framework.engine.step_size",
    "kernel_top_eigenvalue": "framework.engine.step_size",
    "Trajectory": "framework.execution.training",
    "log_schedule": "framework.planning.schedule",
    "train": "framework.execution.training",
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
