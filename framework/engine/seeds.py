"""Deriving every random stream of a job from the root seed, so any job can be re-run alone.

A stage's seed depends on the root seed, the stage's name and the job's replica (the value of
the ``seed`` grid axis, 0 when there is none), and on nothing else: changing an unrelated axis
(the width, the optimizer) never changes a job's data or its initialization stream, and jobs
that differ only in such axes share their random draws (common random numbers).

A seed becomes a random stream in one place, ``seeded_generator``: a CPU generator, so that one
seed draws the same numbers whatever device the run uses. Components draw from it
(``overparam.engine.seeded_generator``), and so do the probe's per-diagnostic streams
(``purpose_seed``) and the start directions of ``lr: auto``.
"""
from __future__ import annotations

import hashlib
import json
import zlib

import torch

SEED_BITS = 63


_PLAIN = (int, str, float, bool, type(None))  # JSON scalars: written alike with and without sort_keys and default


def derive_seed(root: int, *labels: object) -> int:
    """A 63-bit seed from the root seed and labels, stable across processes and machines
    (blake2b of their JSON, not Python's salted ``hash``). Plain scalars take json's shared
    encoder, which writes them as the configured one does, five times faster: a scan makes
    several seeds per grid point."""
    values = [root, *labels]
    if all(type(value) in _PLAIN for value in values):
        text = json.dumps(values)
    else:
        text = json.dumps(values, sort_keys=True, default=str)
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> (64 - SEED_BITS)


def stage_seed(root: int, stage: str, replica: object) -> int:
    """The seed of one stage of one replica."""
    return derive_seed(root, "stage", stage, replica)


def purpose_seed(seed: int, purpose: str) -> int:
    """A member's seed for one named use of its randomness (a diagnostic's draws): its own seed
    mixed with the name's CRC-32, so two diagnostics of one member draw independent numbers."""
    return (int(seed) * 1_000_003 + zlib.crc32(purpose.encode())) % 2**63


def seeded_generator(seed: int) -> torch.Generator:
    """A CPU random stream for one seed: draws on the CPU make results device-independent."""
    return torch.Generator(device="cpu").manual_seed(int(seed))
