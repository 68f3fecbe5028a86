"""The text of ``overparam plugins``: every component by kind, then the report claims, with its
provider, description and (verbose) the file its code is in, its parameters and declared
outputs (a claim: the variables and axes it needs, its figure and ``show`` columns).

So that a user can see what code a pipeline will run, a component from a module named by a
``plugins:`` list or ``--plugin`` shows that module's file beside its name; a distribution's
components are identified by distribution and version, and their files shown with ``--verbose``.
"""
from __future__ import annotations

import inspect

from framework.contract.claim import Claim
from framework.contract.diagnostic import Diagnostic
from framework.contract.parameters import ParamSpec, describe_params
from framework.plugin_system.registry import CLAIM_KIND, KINDS, Entry, Registry

INDENT = "  "


def param_line(spec: ParamSpec) -> str:
    """``name: type = default  [bounds]  description``."""
    default = ", required" if spec.required else f" = {spec.default!r}"
    bounds = f"  [{spec.bounds_text}]" if spec.bounds else ""
    return f"{spec.name}: {spec.type}{default}{bounds}  {spec.description}"


def component_file(entry: Entry) -> str:
    """The file that defines a component's class ("unknown" for one built at run time)."""
    try:
        return inspect.getsourcefile(entry.component) or "unknown"
    except TypeError:
        return "unknown"


def provider_text(entry: Entry) -> str:
    """The provider column: ``built-in``, ``DISTRIBUTION VERSION``, or ``module NAME (FILE)``."""
    source = entry.provider.source
    return f"{source} ({component_file(entry)})" if source.startswith("module ") else source


def claim_lines(claim: type[Claim]) -> list[str]:
    """What a claim reads and makes: variables, axes, figure, ``overparam show`` columns."""
    lines = [f"statement: {claim.statement}"]
    named = (("needs", claim.needs), ("needs one of", claim.needs_one_of), ("uses if present", claim.uses),
             ("grid axes", claim.axes))
    lines += [f"{label}: {', '.join(names)}" for label, names in named if names]
    lines.append(f"figure: {claim.figure}.png")
    lines += [f"show column {column.header!r}: {column.reduce} of {column.variable}" for column in claim.columns]
    return lines


def detail_lines(entry: Entry) -> list[str]:
    """The file of a component, its parameters and, for a diagnostic, its outputs and when it
    is measured; for a claim, what it reads and makes."""
    lines = [f"file: {component_file(entry)}"]
    if issubclass(entry.component, Claim):
        return lines + claim_lines(entry.component)
    lines += [param_line(spec) for spec in describe_params(entry.component.Params)] or ["(no parameters)"]
    component = entry.component
    if issubclass(component, Diagnostic):
        lines.append(f"measured: {component.when}")
        for variable, output in component.outputs.items():
            dims = f"({', '.join(output.dims)})" if output.dims else ""
            units = f" [{output.units}]" if output.units else ""
            lines.append(f"output {variable}{dims}: {output.long_name}{units}  paper: {output.paper_ref}")
    return lines


def render_plugins(registry: Registry, verbose: bool = False) -> str:
    """Every component, grouped by kind, then the claims, in aligned columns: name, provider,
    description."""
    entries = registry.entries() + registry.entries(CLAIM_KIND)
    name_width = max((len(e.name) for e in entries), default=0)
    providers = {id(e): provider_text(e) for e in entries}
    provider_width = max(map(len, providers.values()), default=0)
    lines: list[str] = []
    for kind in [*KINDS, CLAIM_KIND]:
        of_kind = [e for e in entries if e.kind == kind]
        lines.append(f"{kind}s:")
        if not of_kind:
            lines.append(f"{INDENT}(none)")
        for entry in of_kind:
            lines.append(f"{INDENT}{entry.name:<{name_width}}  {providers[id(entry)]:<{provider_width}}  "
                         f"{entry.component.description()}")
            if verbose:
                lines += [f"{INDENT * 3}{line}" for line in detail_lines(entry)]
    return "\n".join(lines)


def render_problems(registry: Registry) -> str:
    """The plugin problems found while loading, one per line; empty when there were none."""
    return "\n".join(f"error: {problem}" for problem in registry.problems)
