"""The names a run store fixes for everyone who reads it: each grid point's status, and the
dimension that tells trainings apart. The store writes them (``framework.storage``), claims and
the report read them (``framework.contract.store_view``).
"""
from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """The state of a grid point, stored as the integer code of its place here (``STATUS_CODE``)."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    DIVERGED = "diverged"


STATUS: tuple[str, ...] = tuple(status.value for status in Status)
STATUS_CODE: dict[str, int] = {name: code for code, name in enumerate(STATUS)}
TRAINING_DIM = "train"  # labels the run variables of each optimizer stage, in a pipeline with several
