"""What a claim's judgement is: a ``Verdict`` and the ``Assessment`` that justifies it.

The rules that reach a verdict from fitted numbers are the report's (``framework.report.verdicts``);
the two types are the claim contract's, since every claim returns an ``Assessment``.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Verdict(str, Enum):
    """How a store's numbers stand to one of the paper's claims (docs/report.md, "Verdicts")."""

    SUPPORTED = "supported"
    CONTRADICTED = "contradicted"
    INCONCLUSIVE = "inconclusive"
    NOT_ENOUGH_RANGE = "not enough range"
    NOT_ENOUGH_REPLICAS = "not enough replicas"
    DESCRIPTIVE = "no claim"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Assessment:
    """A verdict, the sentence that justifies it from the numbers, and the judged number itself
    (estimate, low, high of its 95% interval) where one number decided it."""

    verdict: Verdict
    reason: str
    measured: tuple[float, float, float] | None = None
