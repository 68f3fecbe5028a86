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

from collections.abc import Mapping
from dataclasses import dataclass, field

from framework.contract.store_names import STAGE_DIM, STEP_DIM, TRAINING_DIM


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
    measures (``trained_by``), the steps each diagnostic stage measures at, and each stage's
    kind and components across the grid (``stage_components``, as the store records them)."""

    steps: tuple[int, ...]
    sizes: Mapping[str, int]
    variables: Mapping[str, Variable]
    stages: tuple[str, ...] = ()
    trainings: tuple[str, ...] = ()
    trained_by: Mapping[str, str] = field(default_factory=dict)
    stage_steps: Mapping[str, tuple[int, ...]] = field(default_factory=dict)  # each diagnostic stage's own steps
    stage_components: Mapping[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)  # stage: (kind, names)

    @property
    def training_dims(self) -> tuple[str, ...]:
        """The dimension of the per-training run variables: ``train`` with several optimizer
        stages, none with one (the common case keeps its plain layout)."""
        return (TRAINING_DIM,) if len(self.trainings) > 1 else ()

    def shape(self, variable: Variable) -> tuple[int, ...]:
        """A variable's shape for one grid point."""
        extent = {STEP_DIM: len(self.steps), STAGE_DIM: len(self.stages), **self.sizes}
        return tuple(extent[d] for d in variable.dims)


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
