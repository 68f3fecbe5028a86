"""A sparser logging schedule for the expensive diagnostics (bases, spectral norms, draws).

A diagnostic whose parameter schema derives from ``SparseScheduleParams`` accepts ``every``:
of the logged steps (``log_schedule``: step 0, logarithmically spaced steps, the last), it is
measured only at every ``every``-th one and always at the first and the last. The job runner
asks ``measured_steps`` which steps those are and measures the diagnostic there; the store
keeps the common ``step`` dimension and holds NaN for this diagnostic at the other steps
(docs/architecture.md, "The store"), so a pipeline file sets, e.g., ``chain_norms: {every: 10}`` without changing
the layout of the results.
"""
from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from framework.contract.components import Params


class SparseScheduleParams(Params):
    """Parameters of a diagnostic that may be measured on a thinned logging schedule."""

    every: int = Field(
        1, ge=1, description="measure at every `every`-th logged step only (the first and last always)"
    )


def measured_steps(params: Params, schedule: Sequence[int]) -> list[int]:
    """The logged steps at which a diagnostic with these parameters is measured.

    All of ``schedule`` unless ``params`` is a ``SparseScheduleParams``; then positions
    0, every, 2·every, … of the sorted schedule, and its last step.
    """
    steps = sorted(set(schedule))
    every = params.every if isinstance(params, SparseScheduleParams) else 1
    if not steps or every == 1:
        return steps
    return sorted(set(steps[::every]) | {steps[-1]})
