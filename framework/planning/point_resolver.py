"""One grid point's stages resolved: ``${grid.NAME}`` substituted, numeric parameters given as
text evaluated by the safe expression evaluator (``0.05/m``, with the grid values and the
data's and initializer's numeric parameters bound), each component's schema checked, and the
job's sizes asked of its generator. Problems are collected as findings, never raised, and
plugin code that raises becomes one finding naming the stage, component and provider.
"""
from __future__ import annotations

import functools
import json
import re
import types
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import ValidationError

from framework.contract.components import Component, Params
from framework.contract.diagnostic import ProblemShape
from framework.configuration.expressions import ExpressionError, evaluate, names_in
from framework.configuration.grid import GridPoint
from framework.contract.messages import did_you_mean
from framework.contract.parameters import parameter_problems
from framework.plugin_system.registry import Registry, describe_error
from framework.configuration.source import Finding, KeyPath

if TYPE_CHECKING:
    from framework.planning.calls import Call

GRID_REFERENCE = re.compile(r"\$\{grid\.([^}]*)\}")


@functools.cache
def _numeric_fields(params: type[Params]) -> dict[str, bool]:
    """Fields that take numbers (and not free text): name -> whether an int is required. A
    field may also take a few words (``float | Literal["auto"]``); those are not expressions."""
    out = {}
    for name, info in params.model_fields.items():
        annotation = info.annotation
        members = get_args(annotation) if get_origin(annotation) in (Union, types.UnionType) else (annotation,)
        args = {get_args(arg)[0] if get_origin(arg) is Annotated else arg for arg in members}
        if str in args or not args & {int, float}:
            continue
        out[name] = float not in args
    return out


@functools.cache
def _words(params: type[Params], name: str) -> frozenset[str]:
    """The literal words a field accepts besides numbers (``auto`` for a learning rate)."""
    annotation = params.model_fields[name].annotation
    args = get_args(annotation) if get_origin(annotation) in (Union, types.UnionType) else (annotation,)
    return frozenset(word for arg in args if get_origin(arg) is Literal for word in get_args(arg))


def numbers_of(values: Mapping[str, Any]) -> dict[str, float]:
    """The values that can stand for names in expressions: finite numbers that fit a float."""
    out = {}
    for key, value in values.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) < 1e300:
            out[key] = float(value)
    return out


def _uses(text: str, names: frozenset[str]) -> bool:
    """Whether an expression names any of ``names`` (false for text that does not parse)."""
    try:
        return bool(names_in(text) & names)
    except ExpressionError:
        return False


def _suggest_expression(text: str, variables: Mapping[str, float]) -> str:
    """A fix for a common typo (the letter O for zero, a comma for a point), when it evaluates."""
    for wrong, right in (("O", "0"), ("o", "0"), (",", ".")):
        fixed = text.replace(wrong, right)
        if fixed != text:
            try:
                evaluate(fixed, variables)
                return f"; did you mean {fixed}?"
            except ExpressionError:
                continue
    return ""


SHAPE_HINT = ("; a generator whose sizes are not parameters named n, L, d_x, d must override "
              "Generator.shape(params) to return them (docs/plugins.md)")


def provider_text(registry: Registry, component: type[Component]) -> str:
    """Who provides a component, as messages name it: ``module my_plugin``, ``built-in (separable)``."""
    provider = registry.provider_of(component)
    return str(provider) if provider is not None else f"module {component.__module__}"


def plugin_failure(registry: Registry, component: type[Component], what: str, error: Exception) -> str:
    """One sentence for an exception raised by plugin code during validation or planning."""
    return (f"{component.kind} '{component.name}' from {provider_text(registry, component)} raised "
            f"{describe_error(error)} in {what}")


class PointResolver:
    """Resolves the stages of one grid point, collecting findings."""

    def __init__(self, plan_findings: list[tuple[Finding, str]], point: GridPoint, refused_axes: frozenset[str],
                 registry: Registry, directory: Path, validated: dict[tuple, tuple] | None = None):
        self.registry = registry
        self.validated = {} if validated is None else validated  # shared by the points of one plan
        self.directory = directory  # the pipeline file's folder: PipelinePath parameters resolve against it
        self.findings = plan_findings
        self.point = point
        self.refused_axes = refused_axes  # axes already reported as invalid: their references fail quietly
        self.failed: set[KeyPath] = set()  # paths whose value could not be resolved

    def add(self, path: KeyPath, message: str) -> None:
        self.findings.append((Finding(path, message), self.point.label()))

    def substitute(self, value: Any, path: KeyPath) -> Any:
        if isinstance(value, str):
            whole = GRID_REFERENCE.fullmatch(value.strip())
            for axis in GRID_REFERENCE.findall(value):
                if axis not in self.point.values:
                    known = list(self.point.values)
                    if axis not in self.refused_axes:
                        self.add(path, f"'${{grid.{axis}}}' names no grid axis{did_you_mean(axis, known)}; axes: "
                                       f"{', '.join(known) or 'none'}")
                    self.failed.add(path)
                    return value
            if whole:
                return self.point.values[whole.group(1)]
            return GRID_REFERENCE.sub(lambda m: str(self.point.values[m.group(1)]), value)
        if isinstance(value, dict):
            return {k: self.substitute(v, path + (k,)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.substitute(v, path + (i,)) for i, v in enumerate(value)]
        return value

    def evaluate_numbers(self, component: type[Component], params: dict[str, Any], path: KeyPath,
                         variables: Mapping[str, float]) -> tuple[dict[str, Any], set[str]]:
        """Numeric fields given as text, evaluated; and the names whose expression failed."""
        out, failed = dict(params), set()
        for name, integral in _numeric_fields(component.Params).items():
            text = out.get(name)
            if path + (name,) in self.failed:
                failed.add(name)
                continue
            if not isinstance(text, str) or text in _words(component.Params, name):
                continue
            try:
                value = evaluate(text, variables)
            except ExpressionError as exc:
                failed.add(name)
                if _uses(text, self.refused_axes):
                    continue
                names = ", ".join(sorted(variables)) or "none"
                self.add(path + (name,), f"{text!r} is not a number or an expression in ({names}): {exc}"
                                         f"{_suggest_expression(text, variables)}")
                continue
            out[name] = int(value) if integral and float(value).is_integer() else value
        return out, failed

    def plugin_failed(self, stage: str, component: type[Component], what: str, error: Exception,
                      hint: str = "") -> None:
        """Plugin code raised while the pipeline was validated: one finding naming the stage,
        the component, its provider and the exception, instead of a traceback."""
        self.add(("stages", stage), plugin_failure(self.registry, component, what, error) + hint)

    def validate(self, stage: str, component: type[Component], params: dict[str, Any], path: KeyPath,
                 already_reported: set[str]) -> Params | None:
        """The component's parameters checked against its schema, or None after findings.

        Each distinct stage call is checked once per plan: a stage whose parameters depend on
        one axis of 10 values is validated 10 times, not once per grid point; the other points
        reuse the result (the parameters are immutable) and report the same findings."""
        key = (stage, component, path, json.dumps(params, sort_keys=True, default=repr), frozenset(already_reported))
        if key not in self.validated:
            before = len(self.findings)
            result = self._validate(stage, component, params, path, already_reported)
            self.validated[key] = (result, [(f.path, f.message) for f, _ in self.findings[before:]])
            return result
        result, found = self.validated[key]
        for where, message in found:
            self.add(where, message)
        return result

    def _validate(self, stage: str, component: type[Component], params: dict[str, Any], path: KeyPath,
                  already_reported: set[str]) -> Params | None:
        try:
            return component.parse_params(params, self.directory)
        except ValidationError as error:
            for loc, message in parameter_problems(error, component.Params, f"{component.kind} '{component.name}'"):
                if not (loc and loc[0] in already_reported):
                    self.add(path + loc, message)
            return None
        except Exception as error:  # the schema's own validators are plugin code
            self.plugin_failed(stage, component, "validating its parameters", error)
            return None

    def problem_shape(self, data: Call, m: int, model: Call, cache: dict[tuple, ProblemShape]) -> ProblemShape | None:
        """The job's sizes from the generator's ``shape()`` and the model's layer count, checked;
        ``None`` after a finding."""
        key = (data.key(), m, model.key())
        if key in cache:
            return cache[key]
        try:
            sizes = tuple(data.component().shape(data.params))
        except Exception as error:
            self.plugin_failed(data.stage, data.component, "shape(params)", error, SHAPE_HINT)
            return None
        if len(sizes) != 4 or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in sizes):
            self.add(("stages", data.stage), f"generator '{data.name}' from {self.provider(data.component)}: "
                                             f"shape(params) returned {sizes!r}, expected four positive integers "
                                             f"(n, L, d_x, d)")
            return None
        n, L, d_x, d = sizes
        layers = model.component(model.params).layer_count(L)
        cache[key] = ProblemShape(n=n, L=L, m=m, d_x=d_x, d=d, layers=layers)
        return cache[key]

    def provider(self, component: type[Component]) -> str:
        return provider_text(self.registry, component)
