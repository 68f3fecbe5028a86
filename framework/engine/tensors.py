"""The tensors an ensemble of K networks shares out: its weights and its training problem.

Every tensor carries a leading ensemble axis K (docs/architecture.md, "Ensembles"): K independent networks of one
shape advance together in one batched computation; K = 1 is the plain case. Components make
K = 1 objects; ``stack`` joins members into an ensemble and ``member`` takes one back out.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Sequence

import torch

if TYPE_CHECKING:
    from torch import Tensor

ALIGNMENT_BYTES = 64


def aligned_rows(dtype: torch.dtype) -> int:
    """Rows of one element each that fill a 64-byte line: 8 in float64, 16 in float32.

    BLAS kernels round differently by the alignment of the block they write, and a member's
    blocks sit at multiples of their size: blocks that are whole lines keep every member's
    numbers independent of its place in an ensemble (see ``framework.planning.tasks``).
    """
    return max(1, ALIGNMENT_BYTES // torch.empty((), dtype=dtype).element_size())


SUM_ROW = 4096


def member_sum(x: Tensor) -> Tensor:
    """Σ over every axis but the first (the ensemble axis), ``[K]``, in an order that does not
    depend on K.

    One reduction of more than about 32k elements is split across threads when it is the only
    output (K = 1) and not when there are several, so its rounding would depend on the
    ensemble's size. Summing rows of ``SUM_ROW`` elements first (zero padding adds nothing),
    then the row sums, fixes every member's order.
    """
    flat = x.reshape(x.shape[0], -1)
    missing = -flat.shape[1] % SUM_ROW
    if missing:
        flat = torch.nn.functional.pad(flat, (0, missing))
    return flat.view(x.shape[0], -1, SUM_ROW).sum(dim=-1).sum(dim=-1)


@dataclass(frozen=True)
class Weights:
    """The weights of §2.1, batched: ``W [K, m, m]``, ``A [K, m, d_x]``, ``B [K, d, m]``."""

    W: Tensor
    A: Tensor
    B: Tensor

    def __post_init__(self) -> None:
        K, m, m2 = self.W.shape
        if m != m2 or self.A.shape[:2] != (K, m) or self.B.shape[0] != K or self.B.shape[2] != m:
            raise ValueError(
                f"inconsistent weight shapes: W {tuple(self.W.shape)}, A {tuple(self.A.shape)}, "
                f"B {tuple(self.B.shape)}; expected W [K,m,m], A [K,m,d_x], B [K,d,m]"
            )

    @property
    def K(self) -> int:
        return self.W.shape[0]

    @property
    def m(self) -> int:
        return self.W.shape[1]

    @property
    def d_x(self) -> int:
        return self.A.shape[2]

    @property
    def d(self) -> int:
        return self.B.shape[1]

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> Weights:
        """The same weights on another device or in another dtype."""
        return Weights(*(t.to(device=device, dtype=dtype) for t in (self.W, self.A, self.B)))

    def replace(self, **tensors: Tensor) -> Weights:
        """A copy with some of W, A, B replaced."""
        return replace(self, **tensors)

    def member(self, k: int) -> Weights:
        """Member k as a K = 1 ensemble."""
        return Weights(self.W[k : k + 1], self.A[k : k + 1], self.B[k : k + 1])

    @staticmethod
    def stack(members: Sequence[Weights]) -> Weights:
        """Join ensembles of one shape along K."""
        return Weights(*(torch.cat([getattr(w, f.name) for w in members]) for f in fields(Weights)))


@dataclass(frozen=True)
class Problem:
    """A training set, batched: inputs ``X [K, n + padding, L, d_x]``, targets ``Y [K, n + padding, L, d]``.

    ``delta`` ``[K]`` is the measured separation min_{i≠j} ||x_{i,1} - x_{j,1}|| of
    Assumption 2.1 (``inf`` when n = 1: there is no pair). The last ``padding`` sequences of
    every member are all zero (``framework.engine.padding``): they add nothing to f or its
    gradient, and ``n`` counts only the others, the real sequences an optimizer samples from.
    """

    X: Tensor
    Y: Tensor
    delta: Tensor
    padding: int = 0

    def __post_init__(self) -> None:
        if self.X.dim() != 4 or self.Y.dim() != 4 or self.X.shape[:3] != self.Y.shape[:3]:
            raise ValueError(
                f"inconsistent problem shapes: X {tuple(self.X.shape)}, Y {tuple(self.Y.shape)}; "
                "expected X [K,n,L,d_x] and Y [K,n,L,d]"
            )

    @property
    def K(self) -> int:
        return self.X.shape[0]

    @property
    def n(self) -> int:
        """The real sequences, padding not counted."""
        return self.X.shape[1] - self.padding

    @property
    def rows(self) -> int:
        """The sequences each member holds, padding counted: ``X.shape[1]``."""
        return self.X.shape[1]

    @property
    def L(self) -> int:
        return self.X.shape[2]

    @property
    def d_x(self) -> int:
        return self.X.shape[3]

    @property
    def d(self) -> int:
        return self.Y.shape[3]

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> Problem:
        """The same problem on another device or in another dtype (delta stays float64)."""
        return Problem(self.X.to(device=device, dtype=dtype), self.Y.to(device=device, dtype=dtype),
                       self.delta.to(device=device), self.padding)

    def member(self, k: int) -> Problem:
        """Member k as a K = 1 problem."""
        return Problem(self.X[k : k + 1], self.Y[k : k + 1], self.delta[k : k + 1], self.padding)

    def sequences(self, index: Tensor, multiple: int = 1) -> Problem:
        """The sequences ``index [K, b]`` of each member: the sub-problem an SGD step sees.

        With ``multiple`` > 1, all-zero sequences are appended up to a multiple of it: a zero
        input with a zero target keeps h = 0 at every layer, so it adds exactly nothing to f or
        to its gradient, and it lets the step's blocks keep their alignment (``aligned_rows``;
        ``framework.engine.padding`` pads whole problems the same way).
        """
        rows = torch.arange(self.K, device=index.device).unsqueeze(1)
        X, Y = self.X[rows, index], self.Y[rows, index]
        missing = -index.shape[1] % multiple
        if missing:
            X = torch.cat([X, X.new_zeros(self.K, missing, *X.shape[2:])], dim=1)
            Y = torch.cat([Y, Y.new_zeros(self.K, missing, *Y.shape[2:])], dim=1)
        return Problem(X, Y, self.delta, missing)

    @staticmethod
    def stack(members: Sequence[Problem]) -> Problem:
        """Join problems of one shape and padding along K."""
        paddings = {p.padding for p in members}
        if len(paddings) > 1:
            raise ValueError(f"cannot stack problems padded differently: {sorted(paddings)} zero sequences")
        return Problem(*(torch.cat([getattr(p, name) for p in members]) for name in ("X", "Y", "delta")),
                       paddings.pop())
