"""The shape of a run's results, known before any job runs (docs/architecture.md, "The store").

From a plan, every diagnostic output becomes one variable: its dimensions are the grid's, then
``step`` when it is measured on the logging schedule, then its own (``layer``, ...), sized to
the largest any job needs (smaller jobs are padded with NaN). A diagnostic listed in several
stages (``semi_smoothness`` at two radii) keeps every stage's values along a ``stage``
dimension labelled with the stage names. The store's template and each job's result arrays
are both made from this one description.

Each variable's attributes: the output's ``long_name``, ``paper_ref`` and ``units`` (``"1"``,
dimensionless, where the diagnostic declares none), the diagnostic and when it is measured;
a scheduled variable also says in ``step_holes`` at how many steps of the shared ``step`` axis
it is NaN because only other stages (or jobs) measure there, and how to drop them.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from framework.contract.diagnostic import DIMENSIONLESS
from framework.planning.plan import Plan
from framework.planning.point_resolver import plugin_failure
from framework.planning.dag import trained_by
from framework.contract.store_names import TRAINING_DIM
from framework.storage.schema import RUN_VARIABLES
from framework.configuration.source import Finding, PipelineError

STAGE_DIM = "stage"  # labels the values of a diagnostic listed in several stages
STEP_DIM = "step"


@dataclass(frozen=True)
class Variable:
    """One result variable: which diagnostic output it holds, its dims beyond the grid, attributes.

    ``dims`` start with ``stage`` when the diagnostic is listed in several stages (one value
    per stage: Theorem 4 at two radii, say), then ``step`` when it is measured on the logging
    schedule, then the output's own dims. ``dtype`` is the store's: float64, or int64 for counts.
    """

    name: str
    diagnostic: str
    dims: tuple[str, ...]
    attrs: Mapping[str, str]
    dtype: str = "float64"

    @property
    def scheduled(self) -> bool:
        return STEP_DIM in self.dims

    @property
    def staged(self) -> bool:
        return STAGE_DIM in self.dims


@dataclass(frozen=True)
class Layout:
    """Every variable of a run, the logged steps, the labels of the ``stage`` dimension (the
    stages listing a diagnostic that another stage lists too), the size of each diagnostic
    dimension, the optimizer stages (``trainings``) and which of them each diagnostic stage
    measures (``trained_by``)."""

    steps: tuple[int, ...]
    sizes: Mapping[str, int]
    variables: Mapping[str, Variable]
    stages: tuple[str, ...] = ()
    trainings: tuple[str, ...] = ()
    trained_by: Mapping[str, str] = field(default_factory=dict)
    stage_steps: Mapping[str, tuple[int, ...]] = field(default_factory=dict)  # each diagnostic stage's own steps

    @property
    def training_dims(self) -> tuple[str, ...]:
        """The dimension of the per-training run variables: ``train`` with several optimizer
        stages, none with one (the common case keeps its plain layout)."""
        return (TRAINING_DIM,) if len(self.trainings) > 1 else ()

    def shape(self, variable: Variable) -> tuple[int, ...]:
        """A variable's shape for one grid point."""
        extent = {STEP_DIM: len(self.steps), STAGE_DIM: len(self.stages), **self.sizes}
        return tuple(extent[d] for d in variable.dims)


def _stages_by_diagnostic(plan: Plan) -> dict[str, list[str]]:
    """For each diagnostic name, the stages that list it, in the pipeline's order."""
    found: dict[str, list[str]] = {}
    for job in plan.jobs.distinct():
        for diagnostic in job.diagnostics:
            stages = found.setdefault(diagnostic.call.name, [])
            if diagnostic.call.stage not in stages:
                stages.append(diagnostic.call.stage)
    order = list(plan.pipeline.stages)
    return {name: sorted(stages, key=order.index) for name, stages in found.items()}


def _written_params(plan: Plan, stage: str, diagnostic: str) -> object:
    """The parameters a stage gives a diagnostic, as the file writes them."""
    for ref in plan.pipeline.stages[stage].refs:
        if ref.name == diagnostic:
            return dict(ref.params)
    return {}


def step_holes(steps: tuple[int, ...], measured: set[int]) -> str:
    """The ``step_holes`` attribute of a scheduled variable: at how many of the store's steps
    it is NaN, and how to keep only those it was measured at.

    The ``step`` axis is shared by every variable, so it is the union of every stage's schedule
    in every job (and of each diagnostic's own thinning, ``every``): a variable is NaN at the
    steps only other stages or jobs measure, and a reduction over ``seed`` at such a step warns
    ``All-NaN slice``.
    """
    missing = len([s for s in steps if s not in measured])
    if not missing:
        return "none: measured at every step of the step axis"
    return (f"NaN at {missing} of the {len(steps)} steps, which only other stages or jobs measure (the step "
            "axis is the union of every stage's schedule); .dropna(\"step\", how=\"all\") keeps the "
            f"{len(steps) - missing} it was measured at")


def _with_step_holes(variable: Variable, steps: tuple[int, ...], measured: set[int]) -> Variable:
    """A scheduled variable with its ``step_holes`` attribute; any other unchanged."""
    if not variable.scheduled:
        return variable
    return replace(variable, attrs={**variable.attrs, "step_holes": step_holes(steps, measured)})


def layout_of(plan: Plan) -> Layout:
    """The layout of a plan's results.

    Raises ``PipelineError`` naming both sides of every collision of names: two diagnostics
    declaring one output, an output named like a run variable, a grid axis or a dimension, a
    diagnostic dimension named like a grid axis. One diagnostic listed in several stages is
    no collision: its outputs gain the ``stage`` dimension.
    """
    by_diagnostic = _stages_by_diagnostic(plan)
    repeated = {name for name, stages in by_diagnostic.items() if len(stages) > 1}
    order = list(plan.pipeline.stages)
    stage_labels = tuple(sorted({s for name in repeated for s in by_diagnostic[name]}, key=order.index))
    axes = set(plan.pipeline.grid.axes) | {dim.name for dim in plan.pipeline.grid.dimensions}
    trainings = tuple(stage for stage in order if plan.kinds.get(stage) == "optimizer")
    measures = {stage: trained_by(plan.pipeline, plan.kinds, stage)[0] for stage in order
                if plan.kinds.get(stage) == "diagnostic"}
    variables: dict[str, Variable] = {}
    declared_in: dict[str, str] = {}  # variable -> the stage that declared it first
    sizes: dict[str, int] = {}
    findings = []

    def refuse(stage: str, message: str) -> None:
        findings.append(Finding(("stages", stage), message))

    measured: dict[str, set[int]] = {}  # diagnostic -> the steps any stage of any job measures it at
    stage_steps: dict[str, set[int]] = {}  # diagnostic stage -> the steps it measures at in any job
    seen: set[tuple] = set()  # (stage, parameters, shape): each distinct diagnostic call is laid out once
    for job in plan.jobs.distinct():
        shape = job.shape
        for diagnostic in job.diagnostics:
            call = diagnostic.call
            measured.setdefault(call.name, set()).update(diagnostic.steps)
            stage_steps.setdefault(call.stage, set()).update(diagnostic.steps)
            distinct = (call.stage, call.name, id(call.params), shape)
            if distinct in seen:
                continue
            seen.add(distinct)
            component = call.component
            try:
                own_sizes = dict(component().dim_sizes(call.params, shape))
            except Exception as error:  # plugin code: one finding, not a traceback
                refuse(call.stage, plugin_failure(plan.registry, component, "dim_sizes(params, shape)", error))
                continue
            for dim, size in own_sizes.items():
                if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                    refuse(call.stage, f"diagnostic '{call.name}': dim_sizes() gave {dim} = {size!r}, expected "
                                       "an integer >= 0")
                    continue
                if dim in axes or dim in (STEP_DIM, STAGE_DIM, TRAINING_DIM):
                    what = "a grid axis" if dim in axes else "a dimension of every store"
                    refuse(call.stage, f"diagnostic '{call.name}' declares a dimension '{dim}', which is {what}")
                    continue
                sizes[dim] = max(sizes.get(dim, 0), size)
            for name, output in component.outputs.items():
                if name in variables and variables[name].diagnostic == call.name:
                    continue
                if name in variables:
                    other = variables[name].diagnostic
                    refuse(call.stage, f"output '{name}' of diagnostic '{call.name}' (stage '{call.stage}') is also "
                                       f"declared by diagnostic '{other}' (stage '{declared_in[name]}')")
                    continue
                if name in RUN_VARIABLES or name in axes or name in (STEP_DIM, STAGE_DIM, TRAINING_DIM):
                    what = ("a variable of the run itself" if name in RUN_VARIABLES
                            else "a grid axis" if name in axes else "a dimension of every store")
                    refuse(call.stage, f"output '{name}' of diagnostic '{call.name}' is named like {what}")
                    continue
                dims = ((STAGE_DIM,) if call.name in repeated else ()) + (
                    (STEP_DIM,) if component.when == "schedule" else ()) + tuple(output.dims)
                attrs = {"long_name": output.long_name, "paper_ref": output.paper_ref,
                         "units": output.units or DIMENSIONLESS, "diagnostic": call.name, "measured": component.when}
                if len(trainings) > 1 and call.name not in repeated:
                    attrs["stage"], attrs["trained_by"] = call.stage, measures[call.stage]
                if call.name in repeated:
                    attrs["params_by_stage"] = json.dumps(
                        {stage: _written_params(plan, stage, call.name) for stage in by_diagnostic[call.name]},
                        default=str)
                variables[name] = Variable(name, call.name, dims, attrs, output.dtype)
                declared_in[name] = call.stage
    variables = {name: _with_step_holes(variable, plan.steps, measured.get(variable.diagnostic, set()))
                 for name, variable in variables.items()}
    for dim in sizes:
        if dim in variables:
            refuse(declared_in[dim], f"output '{dim}' of diagnostic '{variables[dim].diagnostic}' is named like "
                                     "the dimension of another diagnostic")
    if findings:
        raise PipelineError(plan.pipeline.source, dict.fromkeys(findings))
    return Layout(plan.steps, sizes, variables, stage_labels, trainings,
                  {stage: measures[stage] for stage in stage_labels} if len(trainings) > 1 else {},
                  {stage: tuple(sorted(steps)) for stage, steps in stage_steps.items()})


@dataclass
class MemberResult:
    """What one grid point leaves in the store: its status and message, its run variables (the
    per-training ones as one value per optimizer stage) and its diagnostics' values."""

    index: tuple[int, ...]
    status: str  # done | diverged | failed
    error: str = ""
    wall_time: float = float("nan")
    reached_step: tuple[int, ...] = ()  # per training, in the layout's order (none: not run)
    learning_rate: tuple[float, ...] = ()
    finished_at: float = float("nan")
    values: dict[str, np.ndarray] = field(default_factory=dict)
