"""The input convention of §2.1, for generators: the padding of footnote 5 and the measured δ.

The paper assumes ``||x_{i,l}|| <= 1``, ``||x_{i,1}|| = 1`` and last coordinate of ``x_{i,1}``
equal to 1/sqrt(2); footnote 5 says any inputs of norm at most 1 can be brought there by
padding. Assumption 2.1 asks that the first inputs be δ-separated.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import math

import torch

if TYPE_CHECKING:
    from torch import Tensor

FIRST_INPUT_LAST_COORDINATE = 1 / math.sqrt(2)


def pad_to_unit_norm(v: Tensor) -> Tensor:
    """Footnote 5's padding, ``[..., p] -> [..., p + 2]``: ``v`` with ``||v|| <= 1`` becomes
    ``(v / sqrt(2), sqrt((1 - ||v||²) / 2), 1 / sqrt(2))``, of norm exactly 1 and last
    coordinate 1/sqrt(2) (the bias of the first layer). Distances shrink by sqrt(2) in ``v``'s
    coordinates, and the map is one-to-one."""
    norms = v.norm(dim=-1, keepdim=True)
    if bool((norms > 1 + 1e-12).any()):
        raise ValueError(f"padding needs ||v|| <= 1, got a norm of {float(norms.max()):.6g}")
    filler = ((1 - norms.square()).clamp_min(0) / 2).sqrt()
    last = torch.full_like(norms, FIRST_INPUT_LAST_COORDINATE)
    return torch.cat([v * FIRST_INPUT_LAST_COORDINATE, filler, last], dim=-1)


def first_input_separation(X: Tensor) -> float:
    """δ = min over pairs i != j of ``||x_{i,1} - x_{j,1}||`` for ``X [n, L, d_x]``
    (Assumption 2.1); ``inf`` when n = 1 (no pair), 0 when two sequences start alike."""
    first = X[:, 0]
    if first.shape[0] < 2:
        return math.inf
    distances = torch.cdist(first, first, compute_mode="donot_use_mm_for_euclid_dist")
    distances.fill_diagonal_(math.inf)
    return float(distances.min())
