"""Parameter schemas of components: describing them (type, default, bounds) and validating raw
values with errors that name the key path.

A component's ``Params`` is a pydantic model (``framework.contract.components.Params``); this module
reads its fields for ``overparam plugins --verbose`` and the contract check, and turns a
pydantic ``ValidationError`` into one message per bad key, each prefixed with where the values
came from (``stages.data.params.delta: ...``), so a pipeline is refused before anything runs.
"""
from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from framework.contract.components import Component, Params

BOUND_SYMBOLS: tuple[tuple[type, str, str], ...] = (
    (annotated_types.Ge, "ge", ">="),
    (annotated_types.Gt, "gt", ">"),
    (annotated_types.Le, "le", "<="),
    (annotated_types.Lt, "lt", "<"),
    (annotated_types.MinLen, "min_length", "length >="),
    (annotated_types.MaxLen, "max_length", "length <="),
)


@dataclass(frozen=True)
class ParamSpec:
    """One field of a parameter schema, as a user reads it."""

    name: str
    type: str
    required: bool
    default: Any
    bounds: tuple[tuple[str, Any], ...]
    description: str

    @property
    def bounds_text(self) -> str:
        """The bounds as ``>= 1, <= 16``; empty when unbounded."""
        return ", ".join(f"{symbol} {value}" for symbol, value in self.bounds)


def type_name(annotation: Any) -> str:
    """A short readable name of a field's type: ``int``, ``float | str``, ``'W' | 'WAB'``."""
    if annotation is None or annotation is type(None):
        return "None"
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *metadata = get_args(annotation)
        flat = [part for item in metadata for part in (item.metadata if isinstance(item, FieldInfo) else [item])]
        bounds = ", ".join(f"{symbol} {value}" for symbol, value in field_bounds(flat))
        return f"{type_name(inner)} ({bounds})" if bounds else type_name(inner)
    if origin is Literal:
        return " | ".join(repr(value) for value in get_args(annotation))
    if origin in (Union, types.UnionType):
        return " | ".join(type_name(arg) for arg in get_args(annotation))
    if origin is not None:
        args = ", ".join("..." if arg is Ellipsis else type_name(arg) for arg in get_args(annotation))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    return getattr(annotation, "__name__", str(annotation))


def field_bounds(metadata: list[Any]) -> tuple[tuple[str, Any], ...]:
    """The numeric and length bounds declared in a pydantic field's metadata, as (symbol, value)."""
    bounds = []
    for item in metadata:
        for kind, attribute, symbol in BOUND_SYMBOLS:
            if isinstance(item, kind):
                bounds.append((symbol, getattr(item, attribute)))
    return tuple(bounds)


def describe_params(schema: type[Params]) -> list[ParamSpec]:
    """Every field of a parameter schema, in declaration order."""
    specs = []
    for name, field in schema.model_fields.items():
        required = field.is_required()
        specs.append(ParamSpec(
            name=name,
            type=type_name(field.annotation),
            required=required,
            default=None if required or field.default is PydanticUndefined else field.default,
            bounds=field_bounds(field.metadata),
            description=field.description or "",
        ))
    return specs


class ParameterError(ValueError):
    """Raw parameters a component's schema refuses; one line per bad key, each with its path."""

    def __init__(self, component: type[Component], where: str, problems: list[str]):
        self.component = component
        self.where = where
        self.problems = problems
        header = f"invalid parameters for {component.kind} '{component.name}':"
        super().__init__("\n".join([header, *(f"  {line}" for line in problems)]))


def key_path(where: str, loc: tuple[int | str, ...]) -> str:
    """``where`` joined with pydantic's ``loc``: ``stages.data.params`` + ``("rules", 0, "at")``
    gives ``stages.data.params.rules[0].at``."""
    path = where
    for part in loc:
        path = f"{path}[{part}]" if isinstance(part, int) else (f"{path}.{part}" if path else str(part))
    return path


def shown(value: Any) -> str:
    """A value as the pipeline file spells it: YAML's ``true``/``false`` for booleans, else ``repr``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


WORDING = {  # pydantic's error types in the project's words
    "int_parsing": "should be a whole number",
    "int_type": "should be a whole number",
    "int_from_float": "should be a whole number, not a fraction",
    "float_parsing": "should be a number",
    "float_type": "should be a number",
    "string_type": "should be text",
    "bool_parsing": "should be true or false",
    "bool_type": "should be true or false",
    "dict_type": "should be a mapping of keys to values",
    "list_type": "should be a list",
    "tuple_type": "should be a list",
    "finite_number": "should be a finite number",
}


def plain_message(item: Mapping[str, Any]) -> str:
    """One pydantic error in the project's words: ``should be greater than 0``, not
    ``Input should be greater than 0``; a validator's own message without pydantic's prefix."""
    if item["type"] in WORDING:
        return WORDING[item["type"]]
    message = str(item["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return "should" + message[len("Input should"):] if message.startswith("Input should") else message


def validation_problems(error: ValidationError, where: str) -> list[str]:
    """One line per error: key path, the value given, and what was expected."""
    problems = []
    for item in error.errors():
        path = key_path(where, item["loc"]) or where or "params"
        if item["type"] == "missing":
            problems.append(f"{path}: required, not given")
        elif item["type"] == "extra_forbidden":
            problems.append(f"{path}: unknown parameter")
        else:
            problems.append(f"{path}: {shown(item['input'])}: {plain_message(item)}")
    return problems


def validate_params(component: type[Component], raw: Mapping[str, Any], where: str = "params",
                    directory: Path | None = None) -> Params:
    """The component's parameters from raw values, or ``ParameterError`` naming every bad key path;
    ``PipelinePath`` values resolve against ``directory`` (a pipeline file's folder)."""
    try:
        return component.parse_params(raw, directory)
    except ValidationError as error:
        raise ParameterError(component, where, validation_problems(error, where)) from None
