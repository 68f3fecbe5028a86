"""The component contract as a check: what a generator, initializer, optimizer or diagnostic
must declare so that pipelines can select it, validate its parameters before running, list it
in ``overparam plugins`` and lay out the store (docs/plugins.md, docs/diagnostics.md).

``check_component(cls)`` returns the problems in plain sentences (empty: the class satisfies
the contract). Plugin authors call it from their tests, directly or through
``overparam.testing.assert_component_contract``.
"""
from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from pydantic import TypeAdapter, ValidationError

from framework.contract.components import Component, Generator, Initializer, Optimizer, Params
from framework.contract.diagnostic import WHEN_CHOICES, Diagnostic, Output
from framework.contract.model import Model
from framework.plugin_system.ensemble_check import (
    FRAMEWORK_REQUIRED,
    check_diagnostic_ensemble,
    check_initializer_ensemble,
    check_model,
    check_optimizer_ensemble,
)
from framework.contract.messages import format_path
from framework.contract.parameters import field_bounds, parameter_problems

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
LOWER_BOUNDS = (">=", ">")
UPPER_BOUNDS = ("<=", "<")
FRAMEWORK_REQUIRED_FIELDS = {name for values in FRAMEWORK_REQUIRED.values() for name in values}
CONTRACT_METHODS: dict[type[Component], tuple[str, tuple[str, ...]]] = {
    Generator: ("generate", ("params", "seed")),
    Initializer: ("initialize", ("params", "layout", "seed")),
    Optimizer: ("step", ("params", "state", "weights", "problem", "lr", "network")),
    Diagnostic: ("measure", ("params", "probe")),
    Model: ("forward", ("weights", "problem")),
}


def check_component(cls: Any) -> list[str]:
    """Every way ``cls`` breaks the component contract, one sentence each; empty when it holds."""
    if not (isinstance(cls, type) and issubclass(cls, Component)):
        return [f"{cls!r} is not a subclass of overparam.Component"]
    bases = [base for base in CONTRACT_METHODS if issubclass(cls, base)]
    if len(bases) != 1:
        return [f"{cls.__name__} must subclass exactly one of Generator, Initializer, Optimizer, Diagnostic, Model"]
    problems = check_identity(cls) + check_methods(cls, bases[0]) + check_params(cls.Params)
    if issubclass(cls, Diagnostic):
        problems += check_outputs(cls)
    if not problems:
        problems += RUNNING_CHECKS[bases[0]](cls)
    return [f"{cls.__name__}: {problem}" for problem in problems]


def check_identity(cls: type[Component]) -> list[str]:
    """A pipeline-friendly ``name`` and a one-line description (the class docstring's first line)."""
    problems = []
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        problems.append(f"name {name!r} must be a lowercase identifier such as 'token_map'")
    if not cls.__doc__ or not cls.description():
        problems.append("needs a docstring whose first line is a one-line description")
    return problems


def check_methods(cls: type[Component], base: type[Component]) -> list[str]:
    """Every abstract method implemented; the contract method callable with the engine's arguments."""
    problems = []
    if inspect.isabstract(cls):
        problems.append(f"abstract methods not implemented: {', '.join(sorted(cls.__abstractmethods__))}")
    method_name, arguments = CONTRACT_METHODS[base]
    method: Callable[..., Any] = getattr(cls, method_name)
    try:
        inspect.signature(method).bind(None, *arguments)
    except TypeError as error:
        problems.append(f"{method_name}() cannot be called as {method_name}(self, {', '.join(arguments)}): {error}")
    try:
        inspect.signature(cls).bind()
    except TypeError:
        problems.append("must be constructible without arguments (parameters go in Params)")
    return problems


def check_generator_shape(cls: type[Generator]) -> list[str]:
    """``shape(params)`` gives the sizes of what ``generate`` makes, for the default parameters
    (the store is laid out from ``shape`` before anything is generated)."""
    try:
        params = cls.Params()
    except ValidationError:
        return []  # no defaults to try: the pipeline's values are checked when it is validated
    try:
        declared = tuple(cls().shape(params))
    except Exception as error:  # any failure is the contract's to report
        return [f"shape(params) fails ({type(error).__name__}: {error}); override it when the parameters are "
                "not named n, L, d_x, d"]
    problem = cls().generate(params, seed=0)
    made = (problem.n, problem.L, problem.d_x, problem.d)
    if declared != made:
        return [f"shape(params) says (n, L, d_x, d) = {declared}, but generate() makes {made}"]
    return []


def check_params(schema: Any) -> list[str]:
    """``Params`` subclasses framework's ``Params``; each field has a type, a description,
    consistent bounds and a default that satisfies them; the defaults together validate."""
    if not (isinstance(schema, type) and issubclass(schema, Params)):
        return [f"Params {schema!r} must subclass overparam.Params"]
    problems = []
    all_defaults = True
    for name, field in schema.model_fields.items():
        where = f"parameter '{name}'"
        if field.annotation is None or field.annotation is Any:
            problems.append(f"{where} needs a type annotation")
        if not (field.description or "").strip():
            problems.append(f"{where} needs a description (Field(..., description=...))")
        problems += [f"{where}: {p}" for p in bounds_problems(field_bounds(field.metadata))]
        if field.is_required():
            all_defaults = False
            if name not in FRAMEWORK_REQUIRED_FIELDS:
                problems.append(f"{where} has no default: give one (Field(DEFAULT, ...)), so that a pipeline "
                                "may leave it out and the contract can run the component")
            continue
        try:
            constrained = Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation
            TypeAdapter(constrained).validate_python(field.default)
        except ValidationError as error:
            problems.append(f"{where}: default {field.default!r} is invalid: {in_words(error, schema)}")
    if all_defaults and not problems:
        try:
            schema()
        except ValidationError as error:
            problems.append(f"the defaults together are invalid: {in_words(error, schema)}")
    return problems


def in_words(error: ValidationError, schema: type[Params]) -> str:
    """Every problem pydantic found with default values, worded as a pipeline's are reported."""
    return "; ".join(f"{format_path(loc)}: {message}" if loc else message
                     for loc, message in parameter_problems(error, schema))


RUNNING_CHECKS: dict[type[Component], Callable[[Any], list[str]]] = {
    Generator: check_generator_shape,
    Initializer: check_initializer_ensemble,
    Optimizer: check_optimizer_ensemble,
    Diagnostic: check_diagnostic_ensemble,
    Model: check_model,
}


def bounds_problems(bounds: tuple[tuple[str, Any], ...]) -> list[str]:
    """A lower bound above an upper bound leaves no valid value."""
    lows = [(symbol, value) for symbol, value in bounds if symbol in LOWER_BOUNDS]
    highs = [(symbol, value) for symbol, value in bounds if symbol in UPPER_BOUNDS]
    problems = []
    for low_symbol, low in lows:
        for high_symbol, high in highs:
            if low > high or (low == high and (low_symbol, high_symbol) != (">=", "<=")):
                problems.append(f"bounds {low_symbol} {low} and {high_symbol} {high} leave no valid value")
    return problems


def check_outputs(cls: type[Diagnostic]) -> list[str]:
    """Diagnostics declare at least one output, each with long_name and paper_ref, and a valid ``when``.

    ``units`` is not required (it defaults to ``"1"``, dimensionless), but one given must be a
    non-empty string: the store writes it as the variable's CF ``units`` attribute.
    """
    problems = []
    outputs = getattr(cls, "outputs", None)
    if not isinstance(outputs, Mapping) or not outputs:
        problems.append("outputs must be a non-empty mapping of variable names to Output")
        outputs = {}
    for variable, output in outputs.items():
        if not (isinstance(variable, str) and variable.isidentifier()):
            problems.append(f"output name {variable!r} must be an identifier")
        if not isinstance(output, Output):
            problems.append(f"output '{variable}' must be an overparam.Output, got {type(output).__name__}")
            continue
        if not output.long_name.strip():
            problems.append(f"output '{variable}' needs a long_name")
        if not output.paper_ref.strip():
            problems.append(f"output '{variable}' needs a paper_ref (an equation, theorem or section)")
        if not (isinstance(output.units, str) and output.units.strip()):
            problems.append(f"output '{variable}' units {output.units!r} must be a CF units string such as '1' "
                            "(dimensionless, the default) or 's'")
        if not all(isinstance(dim, str) and dim.isidentifier() for dim in output.dims):
            problems.append(f"output '{variable}' dims {output.dims!r} must be a tuple of identifiers")
    if cls.when not in WHEN_CHOICES:
        problems.append(f"when {cls.when!r} must be one of {', '.join(WHEN_CHOICES)}")
    return problems
