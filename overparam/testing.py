"""Pytest helpers for plugin authors: check a component against the contract, and check that
the installed package's entry point makes it discoverable.

Use the functions directly::

    from overparam.testing import assert_component_contract, assert_discovered

    def test_my_generator_satisfies_the_contract():
        assert_component_contract(MyGenerator)

or load this module as a pytest plugin (``pytest_plugins = ["overparam.testing"]`` in a
``conftest.py``) for the fixtures ``component_contract`` and ``overparam_registry``.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from framework.plugin_system.contract_check import check_component
from framework.plugin_system.registry import Registry


def assert_component_contract(cls: Any) -> None:
    """Fail with every contract problem of ``cls`` listed, or pass when there is none."""
    __tracebackhide__ = True
    problems = check_component(cls)
    if problems:
        pytest.fail(f"{getattr(cls, '__name__', cls)!s} breaks the component contract:\n"
                    + "\n".join(f"  - {problem}" for problem in problems), pytrace=False)


def assert_discovered(cls: Any, registry: Registry | None = None) -> None:
    """Fail unless the plugin manager finds ``cls`` under its kind and name: the entry point of
    the installed distribution (or the plugin module) registers it, and nothing else claims
    the name."""
    __tracebackhide__ = True
    registry = registry if registry is not None else Registry()
    found = registry.get(cls.kind, cls.name)
    if found is not cls:
        pytest.fail(f"{cls.kind} '{cls.name}' resolves to {found!r}, not {cls!r}", pytrace=False)


@pytest.fixture
def component_contract() -> Callable[[Any], None]:
    """``assert_component_contract``, as a fixture."""
    return assert_component_contract


@pytest.fixture
def overparam_registry() -> Registry:
    """A freshly built registry: built-ins and the installed distributions' plugins."""
    return Registry()


__all__ = ["assert_component_contract", "assert_discovered", "check_component", "component_contract",
           "overparam_registry"]
