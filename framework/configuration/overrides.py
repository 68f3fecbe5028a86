"""Overrides: any key of a pipeline changed without editing its file, Hydra's way.

``key.path=value`` replaces a key the file gives, ``+key.path=value`` adds one it does not give
(its missing parents made as mappings), ``~key.path`` removes one. The value is YAML, read
safely as the file is (``grid.m=[64,128]``, ``stages.train.params.lr=0.01/m``); the key path is
dotted, with a whole number selecting an item of a list (``grid.m.0=32``). The command line
takes them after the file (``overparam run FILE grid.m=[64,128]``), the Python API as
``overrides=``.

The overridden pipeline is validated like a file, and every problem at or below an overridden
key names the override, not the file's line (``quickstart.yaml override 2,
stages.train.params.lr=abc: ...``). An override that cannot be applied (no ``=``, a key the
file lacks without ``+``, a value that is not YAML) is a problem of its own, with a
did-you-mean on the key.
"""
from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import yaml

from framework.configuration.source import Finding, PipelineError, Source
from framework.contract.messages import KeyPath, did_you_mean, format_path

Action = Literal["set", "add", "remove"]


@dataclass(frozen=True)
class Override:
    """One override as given (``text``, its 1-based ``position``) and what it does."""

    position: int
    text: str
    path: KeyPath
    action: Action
    value: Any = None


class OverrideError(Exception):
    """An override that cannot be read or applied; the message says why in the user's words."""


def parse_override(text: str, position: int) -> Override:
    """``key.path=value``, ``+key.path=value`` or ``~key.path`` as an ``Override``."""
    action: Action = "set"
    body = text.strip()
    if body.startswith("~"):
        action, body = "remove", body[1:]
        key_text, value_text = body, None
        if "=" in body:
            raise OverrideError("a removal (~key.path) takes no value")
    else:
        if body.startswith("+"):
            action, body = "add", body[1:]
        key_text, equals, value_text = body.partition("=")
        if not equals:
            raise OverrideError("expected key.path=value (or +key.path=value to add a key, ~key.path to remove one)")
    parts = key_text.strip().split(".")
    if not key_text.strip() or any(not part for part in parts):
        raise OverrideError(f"'{key_text}' is not a key path such as stages.train.params.lr")
    path: KeyPath = tuple(int(part) if part.isdigit() else part for part in parts)
    value = None
    if value_text is not None:
        try:
            value = yaml.safe_load(value_text)
        except yaml.YAMLError as error:
            reason = getattr(error, "problem", None) or str(error).splitlines()[0]
            raise OverrideError(f"the value {value_text!r} is not YAML ({reason})") from None
    return Override(position, text, path, action, value)


def _walk(data: Any, override: Override, create: bool) -> tuple[Any, str | int]:
    """The container holding the override's last key, and that key; missing mappings made when
    ``create``. Raises ``OverrideError`` naming the first key that is not there."""
    node = data
    for depth, key in enumerate(override.path[:-1]):
        here = override.path[:depth + 1]
        child = _child(node, key, here)
        if child is _ABSENT:
            if not create:
                raise OverrideError(_missing(node, key, here, override))
            if not isinstance(node, dict):
                raise OverrideError(f"{format_path(here[:-1]) or 'the top level'} is not a mapping")
            node[key] = child = {}
        node = child
    return node, override.path[-1]


_ABSENT = object()


def _child(node: Any, key: str | int, here: KeyPath) -> Any:
    if isinstance(node, dict):
        return node.get(key if key in node or not isinstance(key, int) else str(key), _ABSENT)
    if isinstance(node, list) and isinstance(key, int):
        return node[key] if key < len(node) else _ABSENT
    raise OverrideError(f"{format_path(here[:-1])} is {type(node).__name__ if node is not None else 'empty'}, "
                        f"so it has no key {key!r}")


def _missing(node: Any, key: str | int, here: KeyPath, override: Override) -> str:
    """The message for a key path the pipeline lacks: where it stops, what is there, how to add it."""
    where = format_path(here)
    if isinstance(node, list):
        return f"{format_path(here[:-1])} has {len(node)} items, so there is no item {key}"
    known = [str(k) for k in node] if isinstance(node, dict) else []
    hint = did_you_mean(str(key), known)
    add = "" if override.action == "add" else f"; to add it, write +{override.text.lstrip('+')}"
    return f"the pipeline has no key {where}{hint}{add}"


def apply_override(data: dict[str, Any], override: Override) -> None:
    """Change ``data`` in place as the override says; ``OverrideError`` when it cannot."""
    container, key = _walk(data, override, create=override.action == "add")
    if isinstance(container, list):
        if not isinstance(key, int) or key >= len(container):
            raise OverrideError(f"{format_path(override.path[:-1])} has {len(container)} items, so there is no "
                                f"item {key}")
        if override.action == "remove":
            del container[key]
        else:
            container[key] = override.value
        return
    if not isinstance(container, dict):
        raise OverrideError(f"{format_path(override.path[:-1])} is not a mapping")
    key = key if key in container or not isinstance(key, int) else str(key)
    if override.action == "add":
        if key in container:
            raise OverrideError(f"the pipeline already gives {format_path(override.path)}; to replace it, write "
                                f"{override.text.lstrip('+')}")
        container[key] = override.value
    elif key not in container:
        raise OverrideError(_missing(container, key, override.path, override))
    elif override.action == "remove":
        del container[key]
    else:
        container[key] = override.value


def with_overrides(source: Source, overrides: Sequence[str]) -> Source:
    """``source`` with the overrides applied in order, each recorded (``Source.overrides``) so
    that problems at its keys name it; raises ``PipelineError`` with every override that cannot
    be applied. The file's own text and lines are kept: the store records both."""
    if not overrides:
        return source
    data = copy.deepcopy(source.data)
    applied: list[Override] = []
    findings: list[Finding] = []
    for position, text in enumerate(overrides, start=1):
        try:
            override = parse_override(str(text), position)
            apply_override(data, override)
        except OverrideError as error:
            findings.append(Finding((), f"override {position}, {text}: {error}"))
            continue
        applied.append(override)
    if findings:  # no line of the file holds an override: the message names it instead
        raise PipelineError(replace(source, lines={}), findings)
    return replace(source, data=data,
                   overrides=source.overrides + tuple((o.path, o.position, o.text) for o in applied))
