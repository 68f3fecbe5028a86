"""overparam's public API: what plugins and users import.

Plugins import from here only (``from framework import Generator, hookimpl, ...``), never from
the core's private modules.
"""
from framework.components import (
    Component,
    Generator,
    Initializer,
    InitializerParams,
    Optimizer,
    OptimizerParams,
    Params,
    PipelinePath,
    seeded_generator,
)
from framework.contract import check_component
from framework.diagnostics import Diagnostic, Output, ProblemShape
from framework.devices import resolve_device, resolve_dtype
from framework.ensemble import Problem, Weights, aligned_rows, member_sum
from framework.expressions import ExpressionError, evaluate
from framework.hookspecs import hookimpl
from framework.probe import Probe, normal_per_member
from framework.inputs import FIRST_INPUT_LAST_COORDINATE, first_input_separation, pad_to_unit_norm
from framework.parameters import ParameterError, ParamSpec, describe_params, validate_params
from framework.registry import (
    DuplicateComponentError,
    Entry,
    PluginError,
    PluginLoadError,
    Provider,
    Registry,
    UnknownComponentError,
)
from framework.rnn import Forward, closed_form_gradient, forward, loss, loss_and_gradient, residual_tangent
from framework.sparse_schedule import SparseScheduleParams, measured_steps
from framework.spectral import top_singular_value
from framework.step_size import auto_learning_rate, kernel_top_eigenvalue, resolve_learning_rate
from framework.training import Trajectory, log_schedule, train

__version__ = "0.1.0"

__all__ = [
    "FIRST_INPUT_LAST_COORDINATE",
    "DuplicateComponentError",
    "Entry",
    "ParamSpec",
    "ParameterError",
    "PluginError",
    "PluginLoadError",
    "Provider",
    "Registry",
    "UnknownComponentError",
    "check_component",
    "describe_params",
    "first_input_separation",
    "pad_to_unit_norm",
    "validate_params",
    "Component",
    "Diagnostic",
    "Output",
    "ProblemShape",
    "hookimpl",
    "ExpressionError",
    "Forward",
    "Generator",
    "Initializer",
    "InitializerParams",
    "Optimizer",
    "OptimizerParams",
    "Params",
    "PipelinePath",
    "Probe",
    "normal_per_member",
    "Problem",
    "Trajectory",
    "SparseScheduleParams",
    "Weights",
    "__version__",
    "aligned_rows",
    "auto_learning_rate",
    "closed_form_gradient",
    "evaluate",
    "forward",
    "kernel_top_eigenvalue",
    "log_schedule",
    "member_sum",
    "loss",
    "loss_and_gradient",
    "measured_steps",
    "resolve_device",
    "resolve_dtype",
    "residual_tangent",
    "resolve_learning_rate",
    "seeded_generator",
    "top_singular_value",
    "train",
]
