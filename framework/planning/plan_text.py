"""The text of ``overparam validate`` and ``overparam plan``: a plan summarized, tabulated, drawn.

Plain aligned columns, never terminal control codes, so that the output reads the same on a
terminal, piped into ``less`` or saved to a file. ``render_summary`` fits one screen (long axes
are elided); ``render_plan`` lists every job and draws the stage DAG.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from framework.contract.diagnostic import ProblemShape
from framework.configuration.grid import Dimension
from framework.planning.plan import Call, Plan
from framework.plugin_system.registry import Provider

INDENT = "  "
MAX_AXIS_VALUES = 8
FIRST_ROWS, LAST_ROWS = 10, 5  # the jobs ``overparam plan`` lists of a large grid, without --all
SEED_DIGITS = 6


def table(rows: Sequence[Sequence[str]], indent: str = INDENT) -> list[str]:
    """Rows of cells as lines of left-aligned columns two spaces apart (trailing spaces removed)."""
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(max(len(r) for r in rows))]
    return [(indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths))).rstrip() for row in rows]


def number(value: object) -> str:
    """A value as a user wrote it: floats to 4 significant digits, everything else as is."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _dimension_values(dim: Dimension) -> list[str]:
    if len(dim.axes) == 1:
        return [number(row[0]) for row in dim.values]
    return ["(" + ", ".join(number(v) for v in row) + ")" for row in dim.values]


def _elide(values: list[str], most: int = MAX_AXIS_VALUES) -> str:
    if len(values) <= most:
        return ", ".join(values)
    head = most // 2
    return ", ".join(values[:head] + ["...", *values[-(most - head - 1):]])


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _schedule_text(plan: Plan, stage: str) -> str:
    schedule = plan.pipeline.stages[stage].schedule
    if plan.kinds.get(stage) != "diagnostic":
        return ""
    steps = {s for job in plan.jobs.distinct() for d in job.diagnostics if d.call.stage == stage for s in d.steps}
    whens = {d.call.component.when for job in plan.jobs.distinct() for d in job.diagnostics if d.call.stage == stage}
    if whens <= {"init", "end"}:
        return f"at {' and '.join(sorted(whens))}"
    given = ", ".join(f"{k} {v}" for k, v in schedule.items()) if schedule else "log 40 (default)"
    return f"{given}: {len(steps)} steps"


def providers(plan: Plan) -> list[Provider]:
    """The plugins whose components the plan uses, in the order first used."""
    found: dict[str, Provider] = {}
    for kind, names in _names_by_kind(plan).items():
        for entry in plan.registry.entries(kind):
            if entry.name in names:
                found.setdefault(entry.provider.plugin, entry.provider)
    return list(found.values())


def _names_by_kind(plan: Plan) -> dict[str, set[str]]:
    names: dict[str, set[str]] = {}
    for stage, used in plan.components().items():
        names.setdefault(plan.kinds[stage], set()).update(used)
    return names


def render_summary(plan: Plan, path: str | Path) -> str:
    """``overparam validate``: name, axes, number of jobs, stages, plugins, steps, store."""
    pipeline = plan.pipeline
    lines = [f"{path}: valid pipeline '{pipeline.name}'"]
    if pipeline.description:
        lines.append(f"{INDENT}{pipeline.description.strip().splitlines()[0]}")
    jobs = len(plan.jobs)
    if pipeline.grid.dimensions:
        sizes = " x ".join(str(dim.size) for dim in pipeline.grid.dimensions)
        lines.append(f"grid: {sizes} = {jobs} job{'s' * (jobs != 1)}")
        lines += table([["+".join(dim.axes), str(dim.size), _elide(_dimension_values(dim))]
                        for dim in pipeline.grid.dimensions])
    else:
        lines.append("grid: none, 1 job")
    lines.append("stages:")
    components = plan.components()
    rows = []
    for stage in plan.order:
        needs = pipeline.stages[stage].needs
        rows.append([stage, plan.kinds[stage], f"<- {', '.join(needs)}" if needs else "",
                     _schedule_text(plan, stage), ", ".join(components.get(stage, []))])
    lines += table(rows)
    lines.append("plugins: " + ", ".join(f"{p.plugin} ({p.source})" for p in providers(plan)))
    steps = sorted({training.call.params.steps for job in plan.jobs.distinct() for training in job.trainings})
    lines.append(f"training: {_elide([str(s) for s in steps])} steps; {len(plan.steps)} logged steps in all")
    lines.append(f"run: seed {pipeline.seed}, device {pipeline.device}, dtype {pipeline.dtype}"
                 + (f", at most {pipeline.max_ensemble} jobs per ensemble" if pipeline.max_ensemble else ""))
    lines.append(f"store: {_relative(pipeline.store)}")
    return "\n".join(lines)


def _explicit_params(call: Call) -> list[str]:
    """The parameters the file sets (defaults left out), as ``key=value``."""
    return [f"{key}={number(getattr(call.params, key))}" for key in type(call.params).model_fields
            if key in call.params.model_fields_set]


def call_text(call: Call, shape: ProblemShape | None = None) -> str:
    """A component with the parameters that the file sets: ``gd steps=1500 lr=0.0007812``; a
    generator with the sizes of its problems (``shape``, known from planning)."""
    text = call.name
    if shape is not None:
        text += f" [n={shape.n} L={shape.L} d_x={shape.d_x} d={shape.d}]"
    params = [p for p in _explicit_params(call)
              if call.kind != "generator" or p.split("=")[0] not in ("n", "L", "d_x", "d")]
    return " ".join([text, *params])


def _short_seed(seed: int) -> str:
    return f"{seed:016x}"[:SEED_DIGITS]


def job_rows(plan: Plan, every: bool = True) -> list[list[str]]:
    """One row per job: index, grid values, data, init and train calls (each optimizer stage's,
    ``; `` between them), seeds, logged steps. Without ``every``, a grid of more than
    ``FIRST_ROWS + LAST_ROWS`` jobs lists its first and last jobs with a row ``...`` between."""
    axes = [axis for dim in plan.pipeline.grid.dimensions for axis in dim.axes]
    header = ["job", *axes, "data", "init", "train", "seeds data/init/train", "logged"]
    rows = [header]
    count = len(plan.jobs)
    shown = range(count) if every or count <= FIRST_ROWS + LAST_ROWS else \
        [*range(FIRST_ROWS), *range(count - LAST_ROWS, count)]
    for i in shown:
        job = plan.jobs[i]
        if i == count - LAST_ROWS and len(shown) < count:
            rows.append(["..."])
        trains = [training.call for training in job.trainings]
        seeds = "/".join(_short_seed(c.seed) for c in (job.data, job.init, *trains))
        train_text = "; ".join((f"{c.stage}: " if len(trains) > 1 else "") + call_text(c) for c in trains)
        rows.append([str(i), *(number(job.point.values[a]) for a in axes), call_text(job.data, job.shape),
                     call_text(job.init), train_text, seeds, str(len(job.steps))])
    return rows


def _levels(plan: Plan) -> dict[str, int]:
    level: dict[str, int] = {}
    for stage in plan.order:
        needs = plan.pipeline.stages[stage].needs
        level[stage] = 1 + max((level[n] for n in needs if n in level), default=-1)
    return level


def _sharing_text(plan: Plan, stage: str) -> str:
    """How often a stage is computed, as the run computes it (``framework.execution.task``):
    each distinct data set once per worker process that needs it, each distinct initialization
    once per task, each training once per job (the jobs of a task together), each diagnostic
    per job at its steps; the model is the network every one of them runs."""
    sharing = plan.sharing()
    kind = plan.kinds.get(stage)
    if kind == "model":
        return f"the network of every job ({len(plan.jobs)}x)"
    if stage not in sharing:
        return f"per job ({len(plan.jobs)}x), at its steps"
    distinct, jobs = sharing[stage]
    if kind == "generator":
        return f"{distinct} distinct for {jobs} jobs, each made once per worker"
    if kind == "initializer":
        return f"{distinct} distinct for {jobs} jobs, each made once per task"
    return f"computed {distinct}x, once per job" if distinct == jobs else f"computed {jobs}x ({distinct} distinct)"


def dag_lines(plan: Plan) -> list[str]:
    """The stage DAG: stages in dependency order, indented by depth, with their needs, kinds,
    components, schedules and how many distinct computations the jobs share."""
    levels = _levels(plan)
    components = plan.components()
    rows = []
    for stage in plan.order:
        depth = levels[stage]
        needs = plan.pipeline.stages[stage].needs
        arrow = ("   " * (depth - 1) + "└─ ") if depth else ""
        rows.append([f"{arrow}{stage}", plan.kinds[stage], f"<- {', '.join(needs)}" if needs else "",
                     _sharing_text(plan, stage), _schedule_text(plan, stage), ", ".join(components.get(stage, []))])
    return table(rows)


def render_plan(plan: Plan, path: str | Path, every: bool = False) -> str:
    """``overparam plan``: the job table (the first and last jobs of a large grid, unless
    ``every``) and the stage DAG."""
    jobs = len(plan.jobs)
    lines = [f"{path}: pipeline '{plan.pipeline.name}', {jobs:,} job{'s' * (jobs != 1)}", "", "jobs:"]
    lines += table(job_rows(plan, every))
    if not every and jobs > FIRST_ROWS + LAST_ROWS:
        lines.append(f"{INDENT}({jobs - FIRST_ROWS - LAST_ROWS:,} jobs not listed between job {FIRST_ROWS - 1} and "
                     f"job {jobs - LAST_ROWS}; overparam plan --all lists every one)")
    lines += ["", f"seeds: the first {SEED_DIGITS} hex digits of each stage's 63-bit seed, derived from the "
                  f"root seed {plan.pipeline.seed}, the stage and the replica",
              "", "stage DAG (dependency order):"]
    lines += dag_lines(plan)
    return "\n".join(lines)

