"""Parameter schemas of components: describing them (type, default, bounds) and saying what is
wrong with raw values, key by key.

A component's ``Params`` is a pydantic model (``framework.contract.components.Params``); this module
reads its fields for ``overparam plugins --verbose`` and the contract check, and turns a
pydantic ``ValidationError`` into one message per bad key with the key's path inside the
parameters (``parameter_problems``), which the pipeline's validation prefixes with where the
values came from (``stages.data.params.delta: 1.5: ...``), so a pipeline is refused before
anything runs.
"""
from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from framework.contract.components import Params
from framework.contract.messages import KeyPath, closest, did_you_mean

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


def parameter_problems(error: ValidationError, schema: type[Params], owner: str = "") -> list[tuple[KeyPath, str]]:
    """What pydantic found wrong with raw parameters, in the project's words: one ``(loc, message)``
    per problem, ``loc`` its key path inside the parameters (empty: the parameters as a whole).

    A missing key reads ``required, not given``; an unknown one ``unknown parameter of OWNER; did
    you mean 'steps'?; it takes steps, lr, train``; a bad value ``1.5: should be less than or
    equal to 1``, the value as a pipeline file spells it. A misspelt key is reported once, as
    unknown with its suggestion, not also as the required key it was meant to be. One wording,
    so that a bad value reads the same wherever parameters are checked.
    """
    items = error.errors()
    known = list(schema.model_fields)
    meant = {closest(str(item["loc"][0]), known) for item in items
             if item["type"] == "extra_forbidden" and len(item["loc"]) == 1}
    problems: list[tuple[KeyPath, str]] = []
    for item in items:
        loc = tuple(item["loc"])
        if item["type"] == "missing":
            if len(loc) != 1 or loc[0] not in meant:
                problems.append((loc, "required, not given"))
        elif item["type"] == "extra_forbidden" and len(loc) == 1:
            of = f" of {owner}" if owner else ""
            problems.append((loc, f"unknown parameter{of}{did_you_mean(str(loc[0]), known)}; "
                                  f"it takes {', '.join(known)}"))
        elif item["type"] == "extra_forbidden":
            problems.append((loc, "unknown key"))
        elif not loc:
            problems.append((loc, plain_message(item)))
        else:
            problems.append((loc, f"{shown(item['input'])}: {plain_message(item)}"))
    return problems
