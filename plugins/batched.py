"""Batched products the built-in models' closed forms share: K matrix products at once, each
through a contiguous operand, so that a member's numbers never depend on its ensemble (a
strided transpose takes a K-dependent kernel path)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from torch import Tensor


def layer_major(W: Tensor) -> Tensor:
    """``W [K, S, a, b]`` (S matrices per member) to a contiguous ``[S, K, a, b]``: each one batch of K."""
    return W.transpose(0, 1).contiguous()


def rows_times(rows: Tensor, matrices: Tensor) -> Tensor:
    """``rows [K, n, b] @ matricesᵀ`` for ``matrices [K, a, b]``: the K products ``M v`` of the
    vectors held as rows, ``[K, n, a]``. Computed as ``(M Vᵀ)ᵀ``: transposing the n rows costs
    little, transposing an m×m matrix (as ``rows @ M.mT.contiguous()`` would) about as much
    as four products with it at m = 2048."""
    return torch.bmm(matrices, rows.mT.contiguous()).mT.contiguous()


def outer_sum(left: Tensor, right: Tensor) -> Tensor:
    """``Σ_i left_i right_iᵀ`` for rows ``left [K, n, a]``, ``right [K, n, b]``: ``[K, a, b]``."""
    return torch.bmm(left.mT.contiguous(), right)


def sequence_outer_norms(left: Tensor, right: Tensor) -> Tensor:
    """``||Σ_l left_{i,l} right_{i,l}ᵀ||_F²`` for each sequence i, from ``left [K, n, L, a]`` and
    ``right [K, n, L, b]``: ``Σ_{l,l'} (left_l·left_l')(right_l·right_l')``, two L×L Gram
    matrices per sequence instead of n gradients of a×b. ``[K, n]``."""
    left, right = left.contiguous(), right.contiguous()
    return ((left @ left.mT) * (right @ right.mT)).sum(dim=(-1, -2))
