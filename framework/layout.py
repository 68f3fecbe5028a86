"""The shape of a run's results, known before any job runs (DESIGN §4-5).

From a plan, every diagnostic output becomes one variable: its dimensions are the grid's, then
``step`` when it is measured on the logging schedule, then its own (``layer``, ...), sized to
the largest any job needs (smaller jobs are padded with NaN). The store's template and each
job's result arrays are both made from this one description.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from framework.diagnostics import ProblemShape
from framework.plan import Job, Plan
from framework.source import Finding, PipelineError

RUN_VARIABLES = ("status", "error", "wall_time", "reached_step", "learning_rate", "finished_at")


@dataclass(frozen=True)
class Variable:
    """One result variable: which diagnostic output it holds, its dims beyond the grid, attributes."""

    name: str
    diagnostic: str
    dims: tuple[str, ...]
    attrs: Mapping[str, str]

    @property
    def scheduled(self) -> bool:
        return bool(self.dims) and self.dims[0] == "step"


@dataclass(frozen=True)
class Layout:
    """Every variable of a run, the logged steps and the size of each diagnostic dimension."""

    steps: tuple[int, ...]
    sizes: Mapping[str, int]
    variables: Mapping[str, Variable]

    def shape(self, variable: Variable) -> tuple[int, ...]:
        """A variable's shape for one grid point."""
        return tuple(len(self.steps) if d == "step" else self.sizes[d] for d in variable.dims)


def problem_shape(job: Job) -> ProblemShape:
    """The sizes a job's diagnostics may depend on, from its resolved parameters."""
    n, L, d_x, d = job.data.component().shape(job.data.params)
    return ProblemShape(n=n, L=L, m=job.init.params.m, d_x=d_x, d=d)


def layout_of(plan: Plan) -> Layout:
    """The layout of a plan's results; raises ``PipelineError`` if two diagnostics declare one name."""
    variables: dict[str, Variable] = {}
    sizes: dict[str, int] = {}
    findings = []
    for job in plan.jobs:
        shape = problem_shape(job)
        for diagnostic in job.diagnostics:
            call = diagnostic.call
            component = call.component
            for dim, size in component().dim_sizes(call.params, shape).items():
                sizes[dim] = max(sizes.get(dim, 0), size)
            for name, output in component.outputs.items():
                if name in RUN_VARIABLES or (name in variables and variables[name].diagnostic != call.name):
                    other = variables[name].diagnostic if name in variables else "the run itself"
                    findings.append(Finding(("stages", call.stage), f"output '{name}' of diagnostic "
                                            f"'{call.name}' is also declared by {other}"))
                    continue
                dims = (("step",) if component.when == "schedule" else ()) + tuple(output.dims)
                attrs = {"long_name": output.long_name, "paper_ref": output.paper_ref,
                         "diagnostic": call.name, "measured": component.when}
                if output.units:
                    attrs["units"] = output.units
                variables[name] = Variable(name, call.name, dims, attrs)
    if findings:
        raise PipelineError(plan.pipeline.source, dict.fromkeys(findings))
    return Layout(plan.steps, sizes, variables)
