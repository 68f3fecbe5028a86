"""The layout of a plan's results (``framework.contract.store_layout``), worked out while the
plan is validated, so that a collision of names is one more finding of ``plan_file``.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace

from framework.configuration.pipeline import Pipeline
from framework.configuration.source import Finding
from framework.contract.diagnostic import units_attrs
from framework.contract.store_names import RUN_VARIABLES
from framework.contract.store_layout import Layout, Variable, step_holes
from framework.contract.store_names import STAGE_DIM, STEP_DIM, TRAINING_DIM
from framework.planning.jobs import Jobs
from framework.planning.point_resolver import plugin_failure
from framework.plugin_system.registry import Registry


def _components_and_steps(jobs: Jobs) -> tuple[dict[str, list[str]], tuple[int, ...]]:
    """Each stage's component names across the grid (in the order the jobs first use them),
    and the store's ``step`` coordinate: every logged step of every job."""
    components: dict[str, list[str]] = {}
    steps: set[int] = set()
    for job in jobs.distinct():
        steps.update(job.steps)
        for call in job.calls:
            names = components.setdefault(call.stage, [])
            if call.name not in names:
                names.append(call.name)
    return components, tuple(sorted(steps))


def _written_params(pipeline: Pipeline, stage: str, diagnostic: str) -> object:
    """The parameters a stage gives a diagnostic, as the file writes them."""
    for ref in pipeline.stages[stage].refs:
        if ref.name == diagnostic:
            return dict(ref.params)
    return {}


def _with_step_holes(variable: Variable, steps: tuple[int, ...], measured: set[int]) -> Variable:
    """A scheduled variable with its ``step_holes`` attribute; any other unchanged."""
    if not variable.scheduled:
        return variable
    return replace(variable, attrs={**variable.attrs, "step_holes": step_holes(steps, measured)})


def layout_of(pipeline: Pipeline, registry: Registry, kinds: Mapping[str, str], jobs: Jobs,
              measured_training: Mapping[str, str], findings: list[Finding]) -> Layout:
    """The layout of a plan's results (``build_plan`` makes it, ``Plan.layout`` carries it).

    ``measured_training`` is the optimizer stage each diagnostic stage measures, as planning
    resolved it. Appends to ``findings`` both sides of every collision of names: two
    diagnostics declaring one output, an output named like a run variable, a grid axis or a
    dimension, a diagnostic dimension named like a grid axis. One diagnostic listed in several
    stages is no collision: its outputs gain the ``stage`` dimension.
    """
    components, steps = _components_and_steps(jobs)
    order = list(pipeline.stages)
    diagnostic_stages = [stage for stage in order if kinds.get(stage) == "diagnostic"]
    by_diagnostic = {name: [stage for stage in diagnostic_stages if name in components.get(stage, ())]
                     for stage in diagnostic_stages for name in components.get(stage, ())}  # name -> its stages
    repeated = {name for name, stages in by_diagnostic.items() if len(stages) > 1}
    stage_labels = tuple(sorted({s for name in repeated for s in by_diagnostic[name]}, key=order.index))
    axes = set(pipeline.grid.axes) | {dim.name for dim in pipeline.grid.dimensions}
    trainings = tuple(stage for stage in order if kinds.get(stage) == "optimizer")
    variables: dict[str, Variable] = {}
    declared_in: dict[str, str] = {}  # variable -> the stage that declared it first
    sizes: dict[str, int] = {}

    def refuse(stage: str, message: str) -> None:
        findings.append(Finding(("stages", stage), message))

    measured: dict[str, set[int]] = {}  # diagnostic -> the steps any stage of any job measures it at
    stage_steps: dict[str, set[int]] = {}  # diagnostic stage -> the steps it measures at in any job
    seen: set[tuple] = set()  # (stage, parameters, shape): each distinct diagnostic call is laid out once
    for job in jobs.distinct():
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
                refuse(call.stage, plugin_failure(registry, component, "dim_sizes(params, shape)", error))
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
                attrs = {"long_name": output.long_name, "paper_ref": output.paper_ref, **units_attrs(output.units),
                         "diagnostic": call.name, "measured": component.when}
                if len(trainings) > 1 and call.name not in repeated:
                    attrs["stage"], attrs["trained_by"] = call.stage, measured_training[call.stage]
                if call.name in repeated:
                    attrs["params_by_stage"] = json.dumps(
                        {stage: _written_params(pipeline, stage, call.name) for stage in by_diagnostic[call.name]},
                        default=str)
                variables[name] = Variable(name, call.name, dims, attrs, output.dtype)
                declared_in[name] = call.stage
    variables = {name: _with_step_holes(variable, steps, measured.get(variable.diagnostic, set()))
                 for name, variable in variables.items()}
    for dim in sizes:
        if dim in variables:
            refuse(declared_in[dim], f"output '{dim}' of diagnostic '{variables[dim].diagnostic}' is named like "
                                     "the dimension of another diagnostic")
    return Layout(steps, sizes, variables, stage_labels, trainings,
                  {stage: measured_training[stage] for stage in stage_labels} if len(trainings) > 1 else {},
                  {stage: tuple(sorted(at)) for stage, at in stage_steps.items()},
                  {stage: (kinds.get(stage, ""), tuple(names)) for stage, names in components.items()})
