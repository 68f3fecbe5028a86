"""How the Elman engine lays out its per-layer states and multiplies them: as rows or as columns.

Every product of the forward pass and of back-propagation through time applies one matrix to a
few state vectors: ``W h`` for the n sequences of a layer, ``A x``, ``B h``, ``Wᵀ δ``, ``Bᵀ r``.
Stored as rows (``[n, m]`` per layer, the product ``H Wᵀ``) or as columns (``[m, n]``, the
product ``W Hᵀ``), these are the same multiplications, and their speed is not: on a CPU,
MKL's float32 kernel runs ``W Hᵀ`` about 1.4x faster than ``H Wᵀ`` for n = 16..32 columns, and
its float64 kernel runs the row form faster by as much (benchmarks/step_vs_pytorch.py). So the
engine picks the orientation by dtype and device (``orientation_for``), never by K, the number
of threads, or a timing taken at run time: which kernels a member's numbers go through is fixed
by what it is, so its results do not depend on the ensemble it runs in, nor on the run.

An ``Orientation`` knows two layouts of the same numbers, both contiguous:

- the layer buffers ``[L, K, n, m]`` (rows) or ``[L, K, m, n]`` (columns): layer l is one batch
  of K matrices, what the sequential recursions update in place;
- the member matrices ``[K, L·n, c]`` (rows) or ``[K, c, L·n]`` (columns), ordered layer by
  layer: what the products over the whole sequence (``A x``, the read-out, the gradients' sums
  over layers) take in one batched call each.

On a CPU a product over a strided batch takes a kernel path that depends on K; every product
here takes contiguous operands laid out alike for every K (for K = 1 the row form's
conversions are views, copies otherwise).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from torch import Tensor


@dataclass(frozen=True)
class Orientation:
    """Rows (``columns=False``) or columns (``columns=True``) for the state vectors."""

    columns: bool

    def of_sequences(self, t: Tensor) -> Tensor:
        """``[K, L, n, c]`` (a value per layer and sequence) to member matrices."""
        K, L, n, c = t.shape
        if self.columns:
            return t.permute(0, 3, 1, 2).reshape(K, c, L * n)
        return t.reshape(K, L * n, c)

    def layers_of(self, t: Tensor) -> Tensor:
        """``[K, L, n, c]`` to contiguous layer buffers ``[L, K, n, c]`` or ``[L, K, c, n]``."""
        return (t.permute(1, 0, 3, 2) if self.columns else t.transpose(0, 1)).contiguous()

    def sequences(self, layers: Tensor) -> Tensor:
        """Layer buffers as ``[K, L, n, c]`` (a view), the inverse of ``layers_of``."""
        return layers.permute(1, 0, 3, 2) if self.columns else layers.transpose(0, 1)

    def layers(self, members: Tensor, L: int) -> Tensor:
        """Member matrices to contiguous layer buffers."""
        if self.columns:
            K, c, Ln = members.shape
            return members.view(K, c, L, Ln // L).permute(2, 0, 1, 3).contiguous()
        K, Ln, c = members.shape
        return members.view(K, L, Ln // L, c).transpose(0, 1).contiguous()

    def members(self, layers: Tensor) -> Tensor:
        """Layer buffers (or a run of consecutive layers) to contiguous member matrices."""
        L, K, a, b = layers.shape
        if self.columns:
            return layers.permute(1, 2, 0, 3).reshape(K, a, L * b)
        return layers.transpose(0, 1).reshape(K, L * a, b)

    def rows(self, layers: Tensor) -> Tensor:
        """Layer buffers as the row layers ``[L, K, n, m]`` of ``overparam.Forward``."""
        return transposed_copy(layers) if self.columns else layers

    def from_rows(self, layers: Tensor) -> Tensor:
        """Row layers ``[L, K, n, m]`` to this orientation's layer buffers: the same transpose,
        which is its own inverse."""
        return self.rows(layers)

    def transposed(self, matrix: Tensor) -> Tensor:
        """``Mᵀ`` as the operand ``apply`` and ``accumulate`` take fastest: a contiguous copy in
        columns (``Wᵀ Δᵀ``), a view in rows (``Δ W`` reads W as it is stored)."""
        return transposed_copy(matrix) if self.columns else matrix.mT

    def apply(self, matrix: Tensor, states: Tensor) -> Tensor:
        """``M s`` for every state vector s of ``states`` (``[K, a, b]`` against member
        matrices or one layer), in this orientation."""
        return torch.bmm(matrix, states) if self.columns else torch.bmm(states, matrix.mT)

    def apply_each(self, matrix: Tensor, layers: Tensor) -> Tensor:
        """``M s`` for every state vector of every layer, as new layer buffers, in one batched
        product over (layer, member): for the small A, B and Bᵀ, whose copy per layer costs
        less than moving the states to member matrices and back."""
        L, K, a, b = layers.shape
        # a copy per layer whatever K: for K = 1 a reshape would keep the expanded view (batch
        # stride 0), which BLAS multiplies by another path, rounding differently from K > 1
        each = matrix.expand(L, *matrix.shape).contiguous().view(L * K, *matrix.shape[1:])
        if self.columns:
            return torch.bmm(each, layers.view(L * K, a, b)).view(L, K, -1, b)
        return torch.bmm(layers.view(L * K, a, b), each.mT).view(L, K, a, -1)

    def accumulate(self, out: Tensor, matrix: Tensor, states: Tensor) -> None:
        """``out += M s`` for every state vector, in place (one layer of a recursion)."""
        if self.columns:
            out.baddbmm_(matrix, states)
        else:
            out.baddbmm_(states, matrix.mT)

    def outer(self, left: Tensor, right: Tensor) -> Tensor:
        """``Σ_j left_j right_jᵀ`` over the state vectors of two member matrices, ``[K, a, b]``:
        a gradient's sum over layers and sequences in one product."""
        if self.columns:
            return torch.bmm(left, right.mT)
        return torch.bmm(left.mT, right)


TRANSPOSE_BLOCK = 32


def transposed_copy(matrix: Tensor) -> Tensor:
    """``Mᵀ`` of ``[..., a, b]`` as a contiguous ``[..., b, a]``, the same numbers as
    ``matrix.mT.contiguous()``, moved in blocks of 32 x 32 that stay in the cache.

    A plain transposing copy reads one of the two matrices a column at a time: 2.4 ms for a
    1024 x 1024 float32 W on a CPU (15 ms at 2048), against 0.7 ms (3.6 ms) moving whole rows
    of blocks first and transposing each block in the cache.
    """
    *lead, a, b = matrix.shape
    if a % TRANSPOSE_BLOCK or b % TRANSPOSE_BLOCK:
        return matrix.mT.contiguous()
    p, q = a // TRANSPOSE_BLOCK, b // TRANSPOSE_BLOCK
    blocks = matrix.reshape(-1, p, TRANSPOSE_BLOCK, q, TRANSPOSE_BLOCK).permute(0, 3, 1, 2, 4).contiguous()
    flipped = blocks.transpose(-1, -2).contiguous()  # [·, q, p, jj, ii]
    return flipped.permute(0, 1, 3, 2, 4).reshape(*lead, b, a)


ROWS = Orientation(columns=False)
COLUMNS = Orientation(columns=True)


def orientation_for(reference: Tensor) -> Orientation:
    """Columns for float32 on a CPU, rows otherwise (float64 on a CPU; CUDA, where cuBLAS takes
    either at one speed and the rows are what earlier GPU runs measured)."""
    return COLUMNS if reference.device.type == "cpu" and reference.dtype == torch.float32 else ROWS
