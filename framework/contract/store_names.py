"""The names a run store fixes for everyone who reads it: each grid point's status, the run's
own variables, and the dimensions that tell trainings, logged steps and measuring stages apart. The store writes them (``framework.storage``), claims and
the report read them (``framework.contract.store_view``).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """The state of a grid point, stored as the integer code of its place here (``STATUS_CODE``)."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    DIVERGED = "diverged"


STATUS: tuple[str, ...] = tuple(status.value for status in Status)
STATUS_CODE: dict[str, int] = {name: code for code, name in enumerate(STATUS)}
TRAINING_DIM = "train"  # labels the run variables of each optimizer stage, in a pipeline with several
STEP_DIM = "step"  # the logged training steps: the union of every stage's schedule
STAGE_DIM = "stage"  # labels the values of a diagnostic listed in several stages

NOT_RUN = -1  # reached_step of a grid point never run


@dataclass(frozen=True)
class RunVariable:
    """One of the run's own variables (bookkeeping, not a diagnostic): its dtype, what it holds
    before the point is written, its attributes; ``per_training`` ones gain the ``train``
    dimension when a pipeline has several optimizer stages; ``eager`` ones are written whole
    with the template (their fill means something: -1 is "not run")."""

    dtype: str
    fill: Any
    attrs: Mapping[str, str]
    per_training: bool = False
    eager: bool = False


# The order is the order of writing: status last, the commit mark of a grid point.
RUN_VARIABLES: Mapping[str, RunVariable] = {
    "error": RunVariable("object", "", {"long_name": "error or divergence message"}),
    "wall_time": RunVariable("float64", float("nan"), {"long_name": "wall time of the task", "units": "s"}),
    "reached_step": RunVariable("int64", NOT_RUN, {"long_name": "last step reached", "units": "step", "comment": "-1: not run",
                                                   "paper_ref": "none: run bookkeeping"},
                                per_training=True, eager=True),
    "learning_rate": RunVariable("float64", float("nan"), {
        "long_name": "learning rate η used", "comment": "lr: auto resolved at initialization",
        "paper_ref": "Theorems 1-2 (η)"}, per_training=True),
    "finished_at": RunVariable("float64", float("nan"), {
        "long_name": "time the grid point finished", "units": "seconds since 1970-01-01T00:00:00Z",
        "paper_ref": "none: run bookkeeping"}),
    "status": RunVariable("int8", STATUS_CODE["pending"], {
        "long_name": "state of the grid point", "flag_values": list(STATUS_CODE.values()),
        "flag_meanings": " ".join(STATUS)}),
}
