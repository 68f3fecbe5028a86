"""The plugin registry: one pluggy ``PluginManager`` and the components its plugins provide.

Plugins are loaded in this order (docs/plugins.md): the built-ins, then the other installed
distributions' entry points of group ``overparam``, then the modules a pipeline names under
``plugins:``. The built-ins are not imported by name here: the ``overparam`` distribution
declares them as entry points of the same group (``pyproject.toml``), like any third party.

Loading never stops at a broken plugin: a plugin that fails to import or register, that
implements a hook that does not exist (``check_pending``), or that declares contract versions
(``OVERPARAM_API``) this one is not among, is unregistered and recorded in ``Registry.problems``
with its provider and the error, and the others still load. A component or claim whose methods
do not match the contract (``framework.plugin_system.signatures``) is refused by itself, and
looking its name up raises the refusal, so a pipeline that uses it is refused at validation. Two
components of one kind with one name are recorded too, and looking that name up raises an
error naming both providers. Report claims (kind ``claim``, ``overparam.Claim``) are registered
and refused the same way, but collected only when first asked for.

The entry points are walked here rather than by pluggy's ``load_setuptools_entrypoints``:
pluggy's loop stops at the first import error without saying which distribution failed, and
keeps whichever of two same-named entry points it meets first. The walk is the same
(``importlib.metadata``, one plugin per entry point, named by the entry point).
"""
from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from framework.plugin_system import hookspecs
from framework.contract.claim import Claim
from framework.contract.components import Component, Generator, Initializer, Optimizer
from framework.contract.diagnostic import Diagnostic
from framework.contract.model import Model
from framework.contract.messages import did_you_mean
from framework.plugin_system.signatures import signature_problems, version_problem

GROUP = "overparam"
BUILTIN_DISTRIBUTION = "overparam"
AUTOLOAD_ENV = "OVERPARAM_DISABLE_PLUGIN_AUTOLOAD"
KINDS: dict[str, tuple[str, type[Component]]] = {
    "generator": ("overparam_register_generators", Generator),
    "initializer": ("overparam_register_initializers", Initializer),
    "optimizer": ("overparam_register_optimizers", Optimizer),
    "diagnostic": ("overparam_register_diagnostics", Diagnostic),
    "model": ("overparam_register_models", Model),
}
# Report claims are no components (a pipeline never selects one): ``entries()`` leaves them out
# and ``entries("claim")`` lists them. They are collected the first time they are asked for (by
# the report, ``overparam show`` or ``overparam plugins``), so that planning a run neither
# imports the report's plotting nor stops at a broken claim.
CLAIM_KIND = "claim"
LAZY_KINDS: dict[str, tuple[str, type[Claim]]] = {CLAIM_KIND: ("overparam_register_claims", Claim)}


@dataclass(frozen=True)
class Provider:
    """Who supplies a plugin: ``plugin`` is its name in the plugin manager (the entry-point or
    module name), ``source`` is ``built-in``, ``DISTRIBUTION VERSION`` or ``module NAME``."""

    plugin: str
    source: str

    def __str__(self) -> str:
        return self.source if self.source.startswith("module ") else f"{self.source} ({self.plugin})"


@dataclass(frozen=True)
class Entry:
    """One registered component and the plugin that provides it."""

    kind: str
    name: str
    component: type[Component] | type[Claim]
    provider: Provider


class PluginError(Exception):
    """A problem with the plugins: one failed to load, or two provide one name."""


class PluginLoadError(PluginError):
    """A plugin that failed to import, register or answer a registration hook."""

    def __init__(self, provider: Provider, reason: str):
        self.provider = provider
        self.reason = reason
        super().__init__(f"plugin '{provider.plugin}' from {provider.source} failed to load: {reason}")


class ContractError(PluginLoadError):
    """A component or claim whose methods do not match the contract (``signatures``): refused
    when its plugin loads, with both signatures and the migration note that explains them."""

    def __init__(self, provider: Provider, kind: str, name: str, problems: Sequence[str]):
        self.kind, self.name, self.problems = kind, name, tuple(problems)
        self.provider, self.reason = provider, f"{kind} '{name}' is refused: " + "; ".join(problems)
        PluginError.__init__(self, f"plugin '{provider.plugin}' from {provider.source}: {self.reason}")


class DuplicateComponentError(PluginError):
    """Two plugins provide a component of one kind under one name."""

    def __init__(self, kind: str, name: str, providers: Sequence[Provider]):
        self.kind, self.name, self.providers = kind, name, tuple(providers)
        names = " and ".join(str(p) for p in providers)
        super().__init__(f"{kind} '{name}' is provided by both {names}; uninstall or block one of them")


class UnknownComponentError(PluginError, LookupError):
    """A component name that no loaded plugin provides."""


def describe_error(error: BaseException) -> str:
    """``ExceptionType: message``, the form the problems are reported in."""
    return f"{type(error).__name__}: {error}"


def autoload_enabled(autoload: bool | None) -> bool:
    """Whether third-party entry points are loaded: the argument if given, else not when the
    environment variable ``OVERPARAM_DISABLE_PLUGIN_AUTOLOAD`` is set (as pytest's)."""
    return autoload if autoload is not None else not os.environ.get(AUTOLOAD_ENV)


def entry_points_in_load_order() -> list[tuple[importlib.metadata.Distribution, importlib.metadata.EntryPoint]]:
    """Every ``overparam`` entry point with its distribution, the built-in distribution's first."""
    found = [
        (dist, ep)
        for dist in importlib.metadata.distributions()
        for ep in dist.entry_points
        if ep.group == GROUP
    ]
    return sorted(found, key=lambda pair: pair[0].metadata["Name"] != BUILTIN_DISTRIBUTION)


def distribution_source(dist: importlib.metadata.Distribution) -> str:
    """``built-in`` for overparam's own distribution, else ``NAME VERSION``."""
    name = dist.metadata["Name"]
    return "built-in" if name == BUILTIN_DISTRIBUTION else f"{name} {dist.version}"


class Registry:
    """The loaded plugins and their components, looked up by kind and name.

    ``modules`` are the extra plugin modules of a pipeline's ``plugins:`` list; ``blocked``
    names plugins (entry-point or module names) to keep out; ``autoload=False`` (or the
    environment variable ``OVERPARAM_DISABLE_PLUGIN_AUTOLOAD``) loads no third-party entry
    points, only the built-ins and ``modules``.
    """

    def __init__(self, modules: Sequence[str] = (), *, autoload: bool | None = None, blocked: Iterable[str] = (),
                 directory: Path | None = None):
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.providers: dict[str, Provider] = {}
        self.problems: list[PluginError] = []
        self.directory = directory
        self.refused: dict[tuple[str, str], ContractError] = {}  # (kind, name) -> why its class was refused
        self.module_paths: list[str] = []  # folders put on sys.path for ``modules``: workers need them too
        for name in blocked:
            self.pm.set_blocked(name)
        self._load_entry_points(autoload_enabled(autoload))
        self._load_modules(modules)
        self._reject_unknown_hooks()
        self._entries = self._collect()

    @property
    def hook(self) -> Any:
        """The hook relay, for calling lifecycle hooks (``registry.hook.overparam_job_started(job=...)``)."""
        return self.pm.hook

    def _register(self, plugin: object, provider: Provider) -> None:
        too_new_or_old = version_problem(plugin)
        if too_new_or_old is not None:
            self.problems.append(PluginLoadError(provider, too_new_or_old))
            return
        try:
            self.pm.register(plugin, name=provider.plugin)
        except Exception as error:
            self.problems.append(PluginLoadError(provider, describe_error(error)))
            return
        self.providers[provider.plugin] = provider

    def _load_entry_points(self, autoload: bool) -> None:
        seen: dict[str, Provider] = {}
        for dist, ep in entry_points_in_load_order():
            provider = Provider(ep.name, distribution_source(dist))
            if self.pm.is_blocked(ep.name) or (not autoload and provider.source != "built-in"):
                continue
            if ep.name in seen and seen[ep.name].source == provider.source:
                continue  # one distribution found twice on sys.path
            if ep.name in seen:
                self.problems.append(PluginLoadError(
                    provider, f"entry point name '{ep.name}' is already taken by {seen[ep.name].source}"))
                continue
            seen[ep.name] = provider
            try:
                plugin = ep.load()
            except Exception as error:
                self.problems.append(PluginLoadError(provider, f"importing {ep.value}: {describe_error(error)}"))
                continue
            self._register(plugin, provider)

    def _load_modules(self, modules: Sequence[str]) -> None:
        for name in modules:
            provider = Provider(name, f"module {name}")
            if self.pm.is_blocked(name):
                continue
            try:
                module: ModuleType = self._import_module(name)
            except ModuleNotFoundError as error:
                looked = f"in {self.directory} (the pipeline's folder) and " if self.directory is not None else ""
                reason = (f"no module named '{error.name}' {looked}on sys.path" if error.name == name.split(".")[0]
                          else describe_error(error))
                self.problems.append(PluginLoadError(provider, f"importing {name}: {reason}"))
                continue
            except Exception as error:
                self.problems.append(PluginLoadError(provider, f"importing {name}: {describe_error(error)}"))
                continue
            if not self.pm.is_registered(module):
                self._register(module, provider)

    def _import_module(self, name: str) -> ModuleType:
        """A plugin module, looked up in the pipeline's folder first (a ``wfro.py`` or package
        ``wfro/`` beside the file), then on ``sys.path``. A module found beside the pipeline
        leaves its folder at the front of ``sys.path``, so that its classes unpickle wherever the
        run sends them (``module_paths`` says which folders the workers need)."""
        top = name.split(".")[0]
        if self.directory is not None and ((self.directory / f"{top}.py").is_file()
                                           or (self.directory / top / "__init__.py").is_file()):
            folder = str(self.directory.resolve())
            if folder not in sys.path:
                sys.path.insert(0, folder)
                importlib.invalidate_caches()
            if folder not in self.module_paths:
                self.module_paths.append(folder)
        return importlib.import_module(name)

    def _reject_unknown_hooks(self) -> None:
        """``check_pending``, plugin by plugin: a plugin implementing a hook with no specification
        (a misspelling, say) is recorded and unregistered, so it cannot half-work."""
        while True:
            try:
                self.pm.check_pending()
                return
            except pluggy.PluginValidationError as error:
                plugin_name = self.pm.get_name(error.plugin)
                unknown = [
                    name for name, caller in vars(self.pm.hook).items()
                    if not name.startswith("_") and not caller.has_spec()
                    and any(impl.plugin is error.plugin for impl in caller.get_hookimpls())
                ]
                specs = [name for name in dir(hookspecs) if name.startswith(f"{hookspecs.PROJECT}_")]
                reasons = [f"unknown hook '{name}'{did_you_mean(name, specs)}" for name in unknown]
                self.problems.append(PluginLoadError(self.providers[plugin_name], "; ".join(reasons)))
                self.pm.unregister(error.plugin)
                del self.providers[plugin_name]

    def _collect(self) -> dict[str, dict[str, list[Entry]]]:
        return {kind: self._collect_kind(kind, hook_name, base) for kind, (hook_name, base) in KINDS.items()}

    def _collect_kind(self, kind: str, hook_name: str, base: type) -> dict[str, list[Entry]]:
        """Every class the plugins return for one kind, by name; the problems recorded."""
        by_name: dict[str, list[Entry]] = {}
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            provider = self.providers[impl.plugin_name]
            try:
                classes = list(impl.function() or [])
            except Exception as error:
                self.problems.append(PluginLoadError(provider, f"{hook_name}() raised {describe_error(error)}"))
                continue
            for cls in classes:
                if not (isinstance(cls, type) and issubclass(cls, base) and isinstance(getattr(cls, "name", None), str)):
                    self.problems.append(PluginLoadError(
                        provider, f"{hook_name}() returned {cls!r}, not a named {base.__name__} subclass"))
                    continue
                declared = cls.declaration_problems() if issubclass(cls, Claim) else []
                if declared:
                    self.problems.append(PluginLoadError(
                        provider, f"{hook_name}() returned {kind} {cls.__name__}, which {'; '.join(declared)}"))
                    continue
                mismatched = signature_problems(cls)
                if mismatched:
                    refusal = ContractError(provider, kind, cls.name, [f"{cls.__name__}.{p}" for p in mismatched])
                    self.problems.append(refusal)
                    self.refused[kind, cls.name] = refusal
                    continue
                same_name = by_name.setdefault(cls.name, [])
                if all(entry.component is not cls for entry in same_name):
                    same_name.append(Entry(kind, cls.name, cls, provider))
        for name, found in by_name.items():
            if len(found) > 1:
                self.problems.append(DuplicateComponentError(kind, name, [e.provider for e in found]))
        return by_name

    def _of_kind(self, kind: str) -> dict[str, list[Entry]]:
        """The entries of one kind by name, collecting a lazy kind (claims) on first use."""
        if kind not in self._entries:
            hook_name, base = LAZY_KINDS[kind]
            self._entries[kind] = self._collect_kind(kind, hook_name, base)
        return self._entries[kind]

    def entries(self, kind: str | None = None) -> list[Entry]:
        """Every registered component (of one kind, or of every component kind), by kind then
        name; duplicates included. Claims are listed by ``entries("claim")`` only."""
        kinds = [self._check_kind(kind)] if kind is not None else list(KINDS)
        return [entry for k in kinds for name in sorted(self._of_kind(k)) for entry in self._of_kind(k)[name]]

    def provider_of(self, component: type[Component] | type[Claim]) -> Provider | None:
        """The plugin that registered this component (or claim) class (``None`` for a class no plugin gave)."""
        kind = getattr(component, "kind", "")
        known = self._of_kind(kind) if kind in KINDS or kind in LAZY_KINDS else {}
        for entry in known.get(getattr(component, "name", ""), []):
            if entry.component is component:
                return entry.provider
        return None

    def names(self, kind: str) -> list[str]:
        """The component (or claim) names of one kind, sorted."""
        return sorted(self._of_kind(self._check_kind(kind)))

    def get(self, kind: str, name: str) -> type[Any]:
        """The component (or claim) class of this kind and name.

        Raises ``UnknownComponentError`` listing the known names (and the plugins that failed
        to load, which may be where it lives), ``ContractError`` for a class refused because its
        methods do not match the contract, or ``DuplicateComponentError`` naming both providers.
        """
        found = self._of_kind(self._check_kind(kind)).get(name)
        if not found and (kind, name) in self.refused:
            raise self.refused[kind, name]
        if not found:
            known = self.names(kind)
            message = (f"unknown {kind} '{name}'{did_you_mean(name, known)}; "
                       f"known {kind}s: {', '.join(known) or 'none'}")
            failed = [p for p in self.problems if isinstance(p, PluginLoadError)]
            if failed:
                message += "; plugins that failed to load: " + "; ".join(str(p) for p in failed)
            raise UnknownComponentError(message)
        if len(found) > 1:
            raise DuplicateComponentError(kind, name, [entry.provider for entry in found])
        return found[0].component

    @staticmethod
    def _check_kind(kind: str) -> str:
        kinds = [*KINDS, *LAZY_KINDS]
        if kind not in kinds:
            raise ValueError(f"unknown component kind '{kind}'{did_you_mean(kind, kinds)}; kinds: {', '.join(kinds)}")
        return kind
