"""Deriving every random stream of a job from the root seed, so any job can be re-run alone.

A stage's seed depends on the root seed, the stage's name and the job's replica (the value of
the ``seed`` grid axis, 0 when there is none), and on nothing else: changing an unrelated axis
(the width, the optimizer) never changes a job's data or its initialization stream, and jobs
that differ only in such axes share their random draws (common random numbers).
"""
from __future__ import annotations

import hashlib
import json

SEED_BITS = 63


def derive_seed(root: int, *labels: object) -> int:
    """A 63-bit seed from the root seed and labels, stable across processes and machines
    (blake2b of their JSON, not Python's salted ``hash``)."""
    text = json.dumps([root, *labels], sort_keys=True, default=str)
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> (64 - SEED_BITS)


def stage_seed(root: int, stage: str, replica: object) -> int:
    """The seed of one stage of one replica."""
    return derive_seed(root, "stage", stage, replica)
