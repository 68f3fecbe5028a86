"""The contract's method signatures, checked when a plugin's classes are registered.

A component or claim overrides methods of its contract class (``Initializer.initialize``,
``Optimizer.step``, ``Claim.fit``, ...). The engine calls them with the contract's arguments,
some by name, so an override that renamed, dropped or added a required parameter would fail at
every grid point of a scan that had validated. Each override is compared with the contract's
method when the registry collects the class: the same parameters, by name and position (extra
ones only with defaults, or ``*args``/``**kwargs``). A class that does not match is refused,
with its provider, the method, both signatures and the migration note of the contract change
that explains the difference (docs/plugins.md, "Compatibility").

A plugin module may also declare the contract versions it was written for,
``OVERPARAM_API = (2, 3)`` (or one number); outside them it is refused as a whole.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

from framework.contract.claim import Claim
from framework.contract.components import Generator, Initializer, Optimizer
from framework.contract.diagnostic import Diagnostic
from framework.contract.model import Model
from framework.contract.version import API_VERSION, COMPATIBILITY, MIGRATION_NOTES

CONTRACTS: tuple[type, ...] = (Generator, Initializer, Optimizer, Diagnostic, Model, Claim)
DECLARED_VERSIONS = "OVERPARAM_API"  # a plugin module's attribute: the contract versions it supports


def contract_of(cls: type) -> type | None:
    """The contract class ``cls`` implements (``Initializer``, ``Claim``, ...), if one."""
    for contract in CONTRACTS:
        if issubclass(cls, contract):
            return contract
    return None


def contract_methods(contract: type) -> list[str]:
    """The public methods the contract defines (its own and those it inherits from the
    contract's bases: ``Component``, ``Network``), which a plugin may override."""
    names = []
    for klass in contract.__mro__:
        if klass is object or not klass.__module__.startswith("framework."):
            continue
        for name, value in vars(klass).items():
            if not name.startswith("_") and name not in names and _is_method(value):
                names.append(name)
    return names


def _is_method(value: Any) -> bool:
    return inspect.isfunction(value) or isinstance(value, (classmethod, staticmethod))


def signature_text(name: str, method: Callable[..., Any]) -> str:
    """``initialize(self, params, layout, seed)``: the parameters a reader compares, no annotations."""
    try:
        parameters = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):
        return f"{name}(...)"
    shown = []
    for parameter in parameters:
        prefix = {inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.VAR_KEYWORD: "**"}.get(parameter.kind, "")
        default = "=..." if parameter.default is not inspect.Parameter.empty else ""
        shown.append(f"{prefix}{parameter.name}{default}")
    return f"{name}({', '.join(shown)})"


def accepts_contract_call(override: Callable[..., Any], contract: Callable[..., Any]) -> bool:
    """Whether ``override`` takes every call the contract's signature allows: each of its
    parameters by the same name at the same place (or through ``*args``/``**kwargs``), and no
    other parameter without a default."""
    try:
        mine = list(inspect.signature(override).parameters.values())
        theirs = list(inspect.signature(contract).parameters.values())
    except (TypeError, ValueError):
        return True  # a callable without an introspectable signature: nothing to compare
    has_args = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in mine)
    has_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in mine)
    named = [p for p in mine if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)]
    by_name = {p.name: p for p in named}
    for position, expected in enumerate(theirs):
        if expected.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        found = by_name.get(expected.name)
        if found is None:
            if not (has_kwargs and (has_args or expected.kind is inspect.Parameter.KEYWORD_ONLY)):
                return False
            continue
        if expected.kind is not inspect.Parameter.KEYWORD_ONLY and (
                position >= len(named) or named[position].name != expected.name):
            return False
    expected_names = {p.name for p in theirs}
    return all(p.default is not inspect.Parameter.empty for p in named if p.name not in expected_names)


def signature_problems(cls: type) -> list[str]:
    """Each overridden method of ``cls`` that does not take the contract's calls, in words with
    both signatures and the migration note that applies; empty when every one does."""
    contract = contract_of(cls)
    if contract is None:
        return []
    problems = []
    for name in contract_methods(contract):
        mine, theirs = getattr(cls, name, None), getattr(contract, name)
        if mine is None or mine is theirs or getattr(mine, "__func__", None) is getattr(theirs, "__func__", 0):
            continue
        if not callable(mine):
            problems.append(f"{name} is {type(mine).__name__}, not the contract's method {signature_text(name, theirs)}")
            continue
        if not accepts_contract_call(mine, theirs):
            note = MIGRATION_NOTES.get((contract.__name__, name), COMPATIBILITY)
            problems.append(f"{signature_text(name, mine)} does not match the contract's {signature_text(name, theirs)} "
                            f"(API version {API_VERSION}); see {note}")
    return problems


def declared_versions(plugin: object) -> tuple[int, ...] | None:
    """The contract versions a plugin module says it supports (``OVERPARAM_API``), if it says."""
    declared = getattr(plugin, DECLARED_VERSIONS, None)
    if declared is None:
        return None
    values: Iterable[Any] = (declared,) if isinstance(declared, int) else declared
    return tuple(values)


def version_problem(plugin: object) -> str | None:
    """Why a plugin that declares its supported versions cannot load in this one, if it cannot."""
    versions = declared_versions(plugin)
    if versions is None or API_VERSION in versions:
        return None
    shown = ", ".join(map(str, versions)) or "none"
    return (f"it supports overparam API versions {shown} ({DECLARED_VERSIONS}), and this overparam has API version "
            f"{API_VERSION}: upgrade the plugin, or install an overparam of a version it supports; {COMPATIBILITY} "
            "says what changed")
