"""From a pipeline to a validated plan of jobs: the stage DAG, every grid point resolved, and
the layout of the store they fill.

For each grid point, ``framework.planning.point_resolver`` substitutes ``${grid.NAME}``, evaluates
numeric parameters given as text (``0.05/m``) and checks each component's parameter schema. Every problem, at every grid point, is collected before anything is
computed; a problem shared by several points is reported once, with how many it affects.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from framework.contract.diagnostic import ProblemShape
from framework.contract.model import DEFAULT_MODEL
from framework.planning.calls import DEFAULT_MODEL_STAGE, Call, DiagnosticCall, Job, Training
from framework.planning.jobs import Jobs, named_axes, named_dimensions, representatives
from framework.planning.layout import layout_of
from framework.contract.store_layout import Layout
from framework.configuration.grid import GridPoint
from framework.configuration.pipeline import (
    MAX_LOGGED_STEPS,
    Pipeline,
    PluginRef,
    StageSpec,
    parse_pipeline,
    pipeline_source,
)
from framework.configuration.overrides import with_overrides
from framework.contract.messages import did_you_mean
from framework.planning.dag import KIND_ORDER, SINGLE_KINDS, check_structure, dependency_order, trained_by
from framework.planning.point_resolver import PointResolver, numbers_of
from framework.plugin_system.registry import PluginError, PluginLoadError, Registry
from framework.engine.seeds import stage_seed
from framework.contract.sparse_schedule import measured_steps
from framework.configuration.source import Finding, KeyPath, PipelineError, Source
from framework.planning.schedule import schedule_steps



@dataclass(frozen=True)
class Plan:
    """A validated pipeline: its stages in dependency order, their kinds, and the jobs."""

    pipeline: Pipeline
    registry: Registry
    order: tuple[str, ...]
    kinds: Mapping[str, str]
    jobs: Jobs
    layout: Layout  # the store's variables, dimensions and steps (``framework.planning.layout``)

    @property
    def steps(self) -> tuple[int, ...]:
        """The store's ``step`` coordinate: every logged step of every job."""
        return self.layout.steps

    def sharing(self) -> dict[str, tuple[int, int]]:
        """For each data, initialization and training stage: (distinct computations, jobs using it)."""
        return self.jobs.sharing

    def components(self) -> dict[str, list[str]]:
        """The component names each stage uses across the grid."""
        return {stage: list(names) for stage, (_, names) in self.layout.stage_components.items()}


def _stage_kind(stage: StageSpec, name: str, registry: Registry) -> tuple[str | None, str]:
    """The kind of component a stage runs, from ``kind:`` or from where its name is registered."""
    if stage.kind is not None:
        if stage.kind not in KIND_ORDER:
            return None, f"kind '{stage.kind}' is not one of {', '.join(KIND_ORDER)}{did_you_mean(stage.kind, KIND_ORDER)}"
        return stage.kind, ""
    kinds = [kind for kind in KIND_ORDER if name in registry.names(kind) or (kind, name) in registry.refused]
    if len(kinds) == 1:
        return kinds[0], ""
    if len(kinds) > 1:
        return None, f"'{name}' is a {' and a '.join(kinds)}; say which with `kind:`"
    every = [n for kind in KIND_ORDER for n in registry.names(kind)]
    failed = f"; plugins that failed to load: {'; '.join(str(p) for p in registry.problems)}" if registry.problems else ""
    return None, f"unknown component '{name}'{did_you_mean(name, every)}{failed}"


def _render_findings(found: list[tuple[Finding, str, int]], total: int) -> list[Finding]:
    """One finding per (path, message), saying at which grid points it occurs (each found at a
    representative point, standing for ``count`` grid points)."""
    where: dict[tuple[KeyPath, str], list[tuple[str, int]]] = {}
    for finding, label, count in found:
        where.setdefault((finding.path, finding.message), []).append((label, count))
    out = []
    for (path, message), places in where.items():
        first, points = places[0][0], sum(count for _, count in places)
        if total > 1 and first:
            extent = "every grid point" if points == total else f"at {first}" + (
                f" and {points - 1} more grid points" if points > 1 else "")
            message = f"{message} ({extent})"
        out.append(Finding(path, message))
    return out


def plan_file(path: str | Path | Mapping[str, Any], registry: Registry | None = None, *,
              overrides: Sequence[str] = (), autoload: bool | None = None, blocked: Iterable[str] = ()) -> Plan:
    """Read a pipeline (a file's path, YAML text or a mapping: ``pipeline_source``), apply the
    ``overrides`` (``key.path=value``: ``framework.configuration.overrides``) and validate it
    completely; raises ``PipelineError`` listing every problem together (the overrides, the top
    level, stages, every grid point).

    Without a ``registry``, one is built for the file's ``plugins:`` list, with ``autoload``
    and ``blocked`` as ``Registry`` takes them (third-party entry points on or off, plugins
    kept out by name)."""
    source = with_overrides(pipeline_source(path), overrides)
    return plan_source(source, registry, autoload=autoload, blocked=blocked)


def plan_source(source: Source, registry: Registry | None = None, *, autoload: bool | None = None,
                blocked: Iterable[str] = ()) -> Plan:
    """The same for an already read source."""
    findings: list[Finding] = []
    pipeline = parse_pipeline(source, findings)
    return build_plan(pipeline, registry, findings, autoload=autoload, blocked=blocked)


def build_plan(pipeline: Pipeline, registry: Registry | None = None, findings: list[Finding] | None = None, *,
               autoload: bool | None = None, blocked: Iterable[str] = ()) -> Plan:
    """Validate every stage at every grid point; raises ``PipelineError`` with all problems
    (appended to ``findings``, the problems already found in the file's top level)."""
    findings = [] if findings is None else findings
    if registry is None:
        try:
            registry = Registry(modules=pipeline.plugins, autoload=autoload, blocked=blocked,
                                directory=pipeline.source.directory)
        except PluginError as exc:
            raise PipelineError(pipeline.source, [*findings, Finding(("plugins",), str(exc))]) from None
    for problem in registry.problems:
        if isinstance(problem, PluginLoadError) and problem.provider.plugin in pipeline.plugins:
            findings.append(Finding(("plugins", pipeline.plugins.index(problem.provider.plugin)), problem.reason))
    order = dependency_order(pipeline, findings)
    resolved: list[tuple[Finding, str, int]] = []
    kinds: dict[str, str] = {}
    grid = pipeline.grid
    dims = named_dimensions(grid, named_axes(pipeline.raw.get("stages"), list(grid.axes)))
    points = representatives(grid, dims) if grid.dimensions else iter([((), GridPoint((), {}), 1)])
    templates: dict[tuple[int, ...], Job] = {}
    unresolved: list[tuple[str, int]] = []  # points that made no job without saying why
    shared = _Shared()
    for key, point, count in points:
        found: list[tuple[Finding, str]] = []
        job = _resolve_point(pipeline, registry, point, kinds, found, shared)
        resolved.extend((finding, label, count) for finding, label in found)
        if job is not None:
            templates[key] = job
        elif not found:
            unresolved.append((point.label(), count))
    if not findings and not resolved:
        check_structure(pipeline, kinds, findings)
        if not templates and not findings:
            findings.append(Finding(("stages",), "no grid point resolves to a job with one generator, one "
                                                 "initializer and an optimizer"))
        elif unresolved and not findings:
            resolved.extend((Finding(("stages",), "the stages resolve to no job with one generator, one initializer "
                                                  "and an optimizer"), label, count) for label, count in unresolved)
    findings.extend(_render_findings(resolved, grid.size))
    if findings:
        raise PipelineError(pipeline.source, findings)
    jobs = Jobs(grid, pipeline.seed, dims, templates)
    measured = {stage: trains[0] for stage, trains in shared.trained_by.items() if trains}
    layout = layout_of(pipeline, registry, kinds, jobs, measured, findings)
    if findings:
        raise PipelineError(pipeline.source, dict.fromkeys(findings))
    return Plan(pipeline, registry, order, kinds, jobs, layout)


@dataclass
class _Shared:
    """What the grid points of one plan work out once and share: each problem shape, each
    distinct stage call's validation, each component name's kind, each diagnostic schedule and
    the training each diagnostic stage measures."""

    shapes: dict[tuple, ProblemShape] = field(default_factory=dict)
    validated: dict[tuple, tuple] = field(default_factory=dict)
    kinds: dict[tuple, tuple[str | None, str]] = field(default_factory=dict)
    model: Call | None = None

    def default_model(self, registry: Registry) -> Call:
        """The model of a pipeline without a model stage: ``DEFAULT_MODEL``, with its default parameters."""
        if self.model is None:
            component = registry.get("model", DEFAULT_MODEL)
            self.model = Call(DEFAULT_MODEL_STAGE, "model", DEFAULT_MODEL, component, component.Params(), 0)
        return self.model
    steps: dict[tuple, tuple[int, ...]] = field(default_factory=dict)
    trained_by: dict[str, list[str]] = field(default_factory=dict)


def _resolve_point(pipeline: Pipeline, registry: Registry, point: GridPoint, kinds: dict[str, str],
                   found: list[tuple[Finding, str]], shared: _Shared) -> Job | None:
    resolver = PointResolver(found, point, pipeline.refused_axes, registry, pipeline.source.directory,
                             shared.validated)
    before = len(found)
    replica = point.values.get("seed", 0)
    variables = numbers_of(point.values)
    refs_by_kind: dict[str, list[tuple[StageSpec, PluginRef, str]]] = {}
    for stage in pipeline.stages.values():
        for ref in stage.refs:
            name_path = ref.path[:-1] + ("plugin",) if not stage.many else ref.path
            name = resolver.substitute(ref.name, name_path)
            if name_path in resolver.failed:
                continue
            if not isinstance(name, str):
                resolver.add(ref.path, f"{name!r} is not a component name")
                continue
            if (stage.kind, name) not in shared.kinds:
                shared.kinds[stage.kind, name] = _stage_kind(stage, name, registry)
            kind, problem = shared.kinds[stage.kind, name]
            if kind is None:
                where = ref.path if stage.many else ("stages", stage.name, "plugin")
                resolver.add(("stages", stage.name, "kind") if stage.kind is not None else where, problem)
                continue
            if kinds.setdefault(stage.name, kind) != kind:
                resolver.add(("stages", stage.name), f"'{name}' is a {kind}, but this stage runs "
                                                      f"{kinds[stage.name]}s at other grid points")
                continue
            refs_by_kind.setdefault(kind, []).append((stage, ref, name))
    calls: dict[str, list[Call]] = {}
    for kind in KIND_ORDER:
        for stage, ref, name in refs_by_kind.get(kind, []):
            try:
                component = registry.get(kind, name)
            except (PluginError, ValueError) as exc:
                resolver.add(("stages", stage.name), str(exc))
                continue
            params = resolver.substitute(dict(ref.params), ref.path)
            params, failed = resolver.evaluate_numbers(component, params, ref.path, variables)
            validated = resolver.validate(stage.name, component, params, ref.path, failed)
            if validated is None:
                continue
            seed = 0 if kind == "model" else stage_seed(pipeline.seed, stage.name, replica)  # a model draws nothing
            calls.setdefault(kind, []).append(Call(stage.name, kind, name, component, validated, seed))
            if kind in ("generator", "initializer"):
                variables = {**numbers_of(validated.model_dump()), **variables}
    if len(found) > before or any(len(calls.get(kind, [])) != 1 for kind in SINGLE_KINDS) \
            or not calls.get("optimizer") or len(calls.get("model", [])) > 1:
        return None
    model = calls["model"][0] if calls.get("model") else shared.default_model(registry)
    if not _fits_model(resolver, model, calls["initializer"][0], calls["optimizer"], calls.get("diagnostic", [])):
        return None
    shape = resolver.problem_shape(calls["generator"][0], calls["initializer"][0].params.m, model, shared.shapes)
    if shape is None:
        return None
    measured_by: dict[str, list[DiagnosticCall]] = {train.stage: [] for train in calls["optimizer"]}
    train_params = {train.stage: train.params for train in calls["optimizer"]}
    train_names = {train.stage: train.name for train in calls["optimizer"]}
    for call in calls.get("diagnostic", []):
        if call.stage not in shared.trained_by:
            shared.trained_by[call.stage] = trained_by(pipeline, kinds, call.stage)
        trains = shared.trained_by[call.stage]
        if len(trains) != 1 or trains[0] not in measured_by:
            continue  # the stage structure is refused as a whole (dag.check_structure)
        allowed = call.component.optimizers
        if allowed is not None and train_names[trains[0]] not in allowed:
            resolver.add(("stages", call.stage, "plugins"),
                         f"diagnostic '{call.name}' measures trainings by {', '.join(sorted(allowed))} only, but stage "
                         f"'{call.stage}' measures '{trains[0]}', trained by '{train_names[trains[0]]}'")
            return None
        key = (call.stage, call.params.model_dump_json(), train_params[trains[0]].steps)
        if key not in shared.steps:  # a schedule that does not fit is a finding at every point it reaches
            steps = _diagnostic_steps(resolver, pipeline, call, train_params[trains[0]].steps)
            if steps is None:
                return None
            shared.steps[key] = steps
        steps = shared.steps[key]
        measured_by[trains[0]].append(DiagnosticCall(call, steps))
    trainings = tuple(Training(train, tuple(measured_by[train.stage])) for train in calls["optimizer"])
    return Job(point, calls["generator"][0], calls["initializer"][0], trainings, shape, model)


def _declared(dims: Mapping[str, tuple[str, ...]]) -> str:
    return ", ".join(f"{name} [{', '.join(labels)}]" for name, labels in dims.items())


def _fits_model(resolver: PointResolver, model: Call, init: Call, optimizers: list[Call],
                diagnostics: list[Call]) -> bool:
    """Whether the initializer draws the model's weights (``Initializer.dims``, ``Model.dims``;
    an initializer without ``dims`` draws any model's), each optimizer trains weights the model
    has (full-batch where the model's output is scaled), and the model provides what each
    diagnostic reads (``Diagnostic.needs``, ``Network.provides``); a finding naming both for
    each that does not."""
    fits = True
    scaled = getattr(model.params, "output_scale", None) is not None
    for call in optimizers:
        if scaled and not call.component.full_batch:
            fits = False
            resolver.add(("stages", call.stage, "plugin"),
                         f"optimizer '{call.name}' steps on minibatches, but model '{model.name}' has an output_scale, "
                         "which centers the output on the whole training set: train it full-batch (gd, linearized) "
                         "or leave output_scale out")
        absent = [name for name in call.params.trained if name not in model.component.dims]
        if absent:
            fits = False
            resolver.add(("stages", call.stage, "params", "train"),
                         f"optimizer '{call.name}' trains {', '.join(call.params.trained)}, but model '{model.name}' "
                         f"has no {', '.join(absent)} (its weights are {', '.join(model.component.dims)})")
    if init.component.dims is not None and dict(init.component.dims) != dict(model.component.dims):
        fits = False
        resolver.add(("stages", init.stage, "plugin"),
                     f"initializer '{init.name}' draws {_declared(init.component.dims)}, but model '{model.name}' "
                     f"has the weights {_declared(model.component.dims)}")
    for call in diagnostics:
        missing = sorted(set(call.component.needs) - set(model.component.provides))
        if missing:
            fits = False
            offered = ", ".join(sorted(model.component.provides)) or "nothing"
            resolver.add(("stages", call.stage, "plugin"),
                         f"diagnostic '{call.name}' needs {' and '.join(missing)} from the model, which model "
                         f"'{model.name}' does not provide (it provides {offered})")
    return fits


def _diagnostic_steps(resolver: PointResolver, pipeline: Pipeline, call: Call, train_steps: int) -> tuple[int, ...] | None:
    """The steps a diagnostic stage measures at in a training of ``train_steps`` steps (None,
    with a finding, when its schedule does not fit the training)."""
    schedule = pipeline.stages[call.stage].schedule
    if schedule and "at" in schedule and max(schedule["at"]) > train_steps:
        resolver.add(("stages", call.stage, "schedule", "at"),
                     f"step {max(schedule['at'])} is beyond the last step {train_steps}")
        return None
    if schedule and "every" in schedule and train_steps // schedule["every"] + 1 > MAX_LOGGED_STEPS:
        resolver.add(("stages", call.stage, "schedule", "every"),
                     f"every {schedule['every']} of {train_steps} steps logs more than "
                     f"{MAX_LOGGED_STEPS} steps; log fewer (or use log: POINTS)")
        return None
    steps = schedule_steps(schedule, train_steps, call.component.when)
    return tuple(measured_steps(call.params, steps))
