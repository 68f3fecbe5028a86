"""The claims a store is reported with: every registered claim, from the plugins the run used.

A report or ``overparam show`` loads the plugins as a run does: the built-ins, the installed
distributions' entry points and the modules the store's pipeline names under ``plugins:``
(read back from the pipeline text the store keeps), so a claim that came with a pipeline's
own plugin module reaches the report of its store. Claims are made in report order: their
``order``, then their name. What stops a claim (a plugin that no longer imports, two plugins
providing one claim name) is returned in words, for the report to list; it stops nothing else.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from framework.contract.claim import Claim
from framework.contract.model import DEFAULT_MODEL
from framework.plugin_system.registry import (CLAIM_KIND, DuplicateComponentError, PluginLoadError, Registry,
                                              UnknownComponentError)

MODEL_KIND = "model"


@dataclass
class LoadedClaims:
    """The claims to run, in report order, and the plugin problems that concern them."""

    claims: list[Claim] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    """(what, why): ``("plugin NAME", "failed to load: ...")``, ``("claim NAME", "is provided by both ...")``."""


def pipeline_plugins(attrs: Mapping[str, Any]) -> list[str]:
    """The module names of the ``plugins:`` list of the pipeline a store was made from."""
    try:
        data = yaml.safe_load(str(attrs.get("resolved_pipeline") or attrs.get("pipeline", ""))) or {}
    except yaml.YAMLError:
        return []
    modules = data.get("plugins", []) if isinstance(data, dict) else []
    return [str(module) for module in modules] if isinstance(modules, list) else []


def store_model(attrs: Mapping[str, Any]) -> str:
    """The name of the model the store's run trained (its model stage's; the default without one)."""
    try:
        stages = json.loads(str(attrs.get("resolved_config", "{}"))).get("stages", {})
    except (json.JSONDecodeError, AttributeError):
        return DEFAULT_MODEL
    for stage in stages.values():
        if isinstance(stage, dict) and stage.get("kind") == MODEL_KIND and stage.get("components"):
            return str(stage["components"][0])
    return DEFAULT_MODEL


def restated(claims: list[Claim], registry: Registry, model: str) -> list[Claim]:
    """``claims`` with the paper reference and statement the model gives for each it restates
    (``overparam.Model.statements``), and the reference in its figure's title replaced too: a
    report on the feed-forward network cites its theory."""
    try:
        statements = registry.get(MODEL_KIND, model).statements
    except (UnknownComponentError, DuplicateComponentError):  # a model no longer installed: the claims as they are
        return claims
    out = []
    for claim in claims:
        if claim.name in statements:
            reference, statement = statements[claim.name]
            claim = claim.along(paper_ref=reference, statement=statement,
                                figure_title=claim.figure_title.replace(claim.paper_ref, reference))
        out.append(claim)
    return out


def store_registry(attrs: Mapping[str, Any]) -> Registry:
    """A registry with the plugins of the run that made the store (its pipeline's modules too,
    looked up beside its pipeline file first, as the run did)."""
    directory = attrs.get("pipeline_directory")
    return Registry(pipeline_plugins(attrs), directory=Path(directory) if directory else None)


def load_claims(registry: Registry) -> LoadedClaims:
    """Every claim the registry provides, made, in report order; duplicates left out and named."""
    loaded = LoadedClaims()
    entries = registry.entries(CLAIM_KIND)
    for problem in registry.problems:
        if isinstance(problem, PluginLoadError):
            loaded.problems.append((f"plugin {problem.provider.plugin}", str(problem)))
        elif isinstance(problem, DuplicateComponentError) and problem.kind == CLAIM_KIND:
            loaded.problems.append((f"claim {problem.name}", str(problem)))
    names = [entry.name for entry in entries]
    for entry in entries:
        if names.count(entry.name) > 1:
            continue
        try:
            loaded.claims.append(entry.component())
        except Exception as error:
            loaded.problems.append((f"claim {entry.name}", f"could not be made: {type(error).__name__}: {error}"))
    loaded.claims.sort(key=lambda claim: (claim.order, claim.name))
    return loaded
