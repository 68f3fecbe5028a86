"""The stage DAG: the order stages run in, and what each kind of stage consumes and produces.

A stage's value is typed by its kind (docs/architecture.md, "The layers"): a generator produces
the data (a ``Problem``), an initializer the weights (``Weights``, sized by the data's d_x and
d), an optimizer a trained trajectory from the data and the initial weights, a diagnostic
measurements of one trajectory. ``needs:`` says where a stage's inputs come from: an optimizer
stage must reach the generator and the initializer through its needs, a diagnostic stage
exactly one optimizer stage. Several optimizer stages may start from one initialization (GD and
SGD from the same W0), each with its own diagnostic stages; there is one generator and one
initializer. A ``model`` stage (at most one; without it the network is ``overparam.engine.DEFAULT_MODEL``,
the paper's Elman network) says which network the weights are of: the initializer stage needs it.
"""
from __future__ import annotations

from collections.abc import Mapping

from framework.configuration.pipeline import Pipeline
from framework.contract.messages import did_you_mean
from framework.configuration.source import Finding

KIND_ORDER = ("model", "generator", "initializer", "optimizer", "diagnostic")
PRODUCES = {"model": "network", "generator": "data", "initializer": "weights", "optimizer": "trajectory",
            "diagnostic": "measurements"}
CONSUMES: Mapping[str, tuple[str, ...]] = {"model": (), "generator": (), "initializer": ("network",),
                                           "optimizer": ("data", "weights"),
                                           "diagnostic": ("trajectory",)}
SINGLE_KINDS = ("generator", "initializer")  # one per pipeline; optimizer and diagnostic stages may be many


def dependency_order(pipeline: Pipeline, findings: list[Finding]) -> tuple[str, ...]:
    """The stages in an order where each comes after everything it needs; unknown needs and
    cycles are findings."""
    stages = pipeline.stages
    for stage in stages.values():
        for i, need in enumerate(stage.needs):
            if need in pipeline.refused_stages:
                continue
            if need not in stages:
                findings.append(Finding(("stages", stage.name, "needs", i),
                                        f"'{need}' is not a stage{did_you_mean(need, list(stages))}; stages: "
                                        f"{', '.join(stages)}"))
            elif need == stage.name:
                findings.append(Finding(("stages", stage.name, "needs", i), "a stage cannot need itself"))
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "open":
            cycle = trail[trail.index(name):] + [name]
            findings.append(Finding(("stages", name, "needs"), "the stages form a cycle: " + " -> ".join(cycle)))
            return
        state[name] = "open"
        for need in stages[name].needs:
            if need in stages and need != name:
                visit(need, trail + [name])
        state[name] = "done"
        order.append(name)

    for name in stages:
        visit(name, [])
    return tuple(order)


def ancestors(pipeline: Pipeline, name: str) -> set[str]:
    """Every stage a stage needs, directly or through other stages."""
    seen: set[str] = set()
    todo = list(pipeline.stages[name].needs)
    while todo:
        need = todo.pop()
        if need in pipeline.stages and need not in seen:
            seen.add(need)
            todo.extend(pipeline.stages[need].needs)
    return seen


def trained_by(pipeline: Pipeline, kinds: Mapping[str, str], stage: str) -> list[str]:
    """The optimizer stages among a stage's ancestors, in the pipeline's order."""
    found = ancestors(pipeline, stage)
    return [name for name in pipeline.stages if name in found and kinds.get(name) == "optimizer"]


def check_structure(pipeline: Pipeline, kinds: Mapping[str, str], findings: list[Finding]) -> None:
    """Each stage finds what its kind consumes among its needs: one generator and one initializer
    per pipeline, at least one optimizer stage reaching both, each diagnostic stage measuring
    exactly one optimizer stage."""
    by_kind: dict[str, list[str]] = {}
    for stage, kind in kinds.items():
        by_kind.setdefault(kind, []).append(stage)
    for kind in SINGLE_KINDS:
        found = by_kind.get(kind, [])
        if len(found) != 1:
            what = "none" if not found else ", ".join(found)
            findings.append(Finding(("stages",), f"a pipeline needs exactly one {kind} stage; found {what}"))
    if len(by_kind.get("model", [])) > 1:
        findings.append(Finding(("stages",), f"a pipeline has at most one model stage; found {', '.join(by_kind['model'])}"))
    for model in by_kind.get("model", [])[:1]:
        for init in by_kind.get("initializer", []):
            if model not in ancestors(pipeline, init):
                findings.append(Finding(("stages", init, "needs"),
                                        f"the model stage '{model}' must be among this stage's needs "
                                        "(the initializer draws that model's weights)"))
    if not by_kind.get("optimizer"):
        findings.append(Finding(("stages",), "a pipeline needs at least one optimizer stage; found none"))
    for stage in by_kind.get("optimizer", []):
        for kind in SINGLE_KINDS:
            for other in by_kind.get(kind, []):
                if other not in ancestors(pipeline, stage):
                    findings.append(Finding(("stages", stage, "needs"),
                                            f"the {kind} stage '{other}' must be among this stage's needs"))
        earlier = trained_by(pipeline, kinds, stage)
        if earlier:
            findings.append(Finding(("stages", stage, "needs"),
                                    f"an optimizer stage trains from the initializer's weights; it cannot need "
                                    f"the optimizer stage '{earlier[0]}' (continuing another stage's training "
                                    "is not supported)"))
    optimizers = by_kind.get("optimizer", [])
    for stage in by_kind.get("diagnostic", []):
        trains = trained_by(pipeline, kinds, stage)
        if not trains and len(optimizers) == 1:
            findings.append(Finding(("stages", stage, "needs"),
                                    f"a diagnostic stage must need the optimizer stage '{optimizers[0]}'"))
        elif not trains:
            findings.append(Finding(("stages", stage, "needs"),
                                    "a diagnostic stage must need one of the optimizer stages "
                                    f"{', '.join(repr(o) for o in optimizers)}"))
        elif len(trains) > 1:
            findings.append(Finding(("stages", stage, "needs"),
                                    f"a diagnostic stage measures one training, but this one needs "
                                    f"{' and '.join(repr(t) for t in trains)}; give each its own diagnostic stage"))
