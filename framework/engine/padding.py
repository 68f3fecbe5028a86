"""Zero padding, so that networks of every shape run as ensembles (docs/architecture.md, "Ensembles").

A member's blocks keep their alignment at every position of an ensemble only when n and m
are multiples of ``aligned_rows`` (8 in float64, 16 in float32; ``framework.planning.tasks``).
A network of another shape is padded up to the next multiples, alone and in an ensemble alike,
so that it computes bit for bit the same in either:

- **zero sequences** (x = 0, y* = 0): h_0 = 0 and ``g_l = W h_{l-1} + A x_l`` keep h = 0 at
  every layer (§2.1), so their residuals ``B h_l - y*_l`` are 0 and they add exactly nothing to
  f (§2.2) or to its gradient (Fact 2.5). ``Problem.padding`` counts them, so that ``Problem.n``
  stays the real n and SGD samples only real sequences.
- **zero neurons** (their rows and columns of W, rows of A and columns of B set to 0): such a
  neuron has g = 0 and h = relu(0) = 0, so it adds nothing to another neuron's g or to the
  read-out; its back-propagated ``δ = D (Bᵀ loss + Wᵀ δ')`` is 0, since its column of B and its
  row of Wᵀ are 0. Every gradient entry of its row or column (``δ_i h_jᵀ``, ``δ_i x_jᵀ``,
  ``loss h_jᵀ``) is therefore 0, and an update that keeps an entry that is 0 with a gradient of 0
  at 0 (GD, SGD, mini-batch: ``Optimizer.keeps_padding_zero``) never moves them.

The padded entries take part in the products (the real entries' sums may round differently
from those of the unpadded network, by an ulp or so), never in the values: what a padded
network computes for its real neurons and sequences is the unpadded network's f, gradient and
trajectory up to rounding. Diagnostics and ``lr: auto`` see each member cut back to its real n
and m (``Padding.real_weights``, ``Padding.real_problem``), so m in ``0.05/m`` or in the PL
ratio is the real m, and a diagnostic measures exactly the network it would measure unpadded.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from framework.engine.tensors import Problem, Weights, aligned_rows

if TYPE_CHECKING:
    from torch import Tensor


def rounded_up(size: int, multiple: int) -> int:
    """The least multiple of ``multiple`` that is at least ``size``."""
    return -(-size // multiple) * multiple


def _pad(t: Tensor, dim: int, size: int) -> Tensor:
    """``t`` with zeros appended along ``dim`` up to ``size``."""
    missing = size - t.shape[dim]
    if missing == 0:
        return t
    shape = list(t.shape)
    shape[dim] = missing
    return torch.cat([t, t.new_zeros(shape)], dim=dim)


@dataclass(frozen=True)
class Padding:
    """A network of ``n`` sequences and ``m`` neurons, padded to ``n_padded`` and ``m_padded``."""

    n: int
    m: int
    n_padded: int
    m_padded: int

    @staticmethod
    def aligning(n: int, m: int, dtype: torch.dtype) -> Padding:
        """The padding that makes n and m multiples of ``aligned_rows(dtype)``."""
        rows = aligned_rows(dtype)
        return Padding(n, m, rounded_up(n, rows), rounded_up(m, rows))

    @staticmethod
    def none(n: int, m: int) -> Padding:
        return Padding(n, m, n, m)

    @property
    def active(self) -> bool:
        return (self.n_padded, self.m_padded) != (self.n, self.m)

    def weights(self, weights: Weights) -> Weights:
        """The weights with zero neurons appended along every axis labelled ``m`` (``Weights.dims``)."""
        def padded(name: str, t: Tensor) -> Tensor:
            for axis in weights.hidden_axes(name):
                t = _pad(t, axis, self.m_padded)
            return t

        return Weights({name: padded(name, t) for name, t in weights.tensors.items()}, weights.dims)

    def problem(self, problem: Problem) -> Problem:
        """The problem with zero sequences appended, counted in ``Problem.padding``."""
        rows = self.n_padded - problem.n
        return Problem(_pad(problem.X, 1, self.n_padded), _pad(problem.Y, 1, self.n_padded), problem.delta,
                       padding=problem.padding + rows)

    def real_weights(self, weights: Weights) -> Weights:
        """The members cut back to their real neurons (fresh, contiguous tensors: what their numbers
        would be in if they had never been padded; ``weights.member(k)`` for member k alone)."""
        def real(name: str, t: Tensor) -> Tensor:
            hidden = weights.hidden_axes(name)
            index = [slice(None)] + [slice(None, self.m) if axis in hidden else slice(None)
                                     for axis in range(1, t.dim())]
            return t[tuple(index)].contiguous()

        return Weights({name: real(name, t) for name, t in weights.tensors.items()}, weights.dims)

    def real_problem(self, problem: Problem) -> Problem:
        """The members' real sequences, as a problem without padding (``problem.member(k)`` for
        member k alone)."""
        n = self.n
        return Problem(problem.X[:, :n].contiguous(), problem.Y[:, :n].contiguous(), problem.delta)

    def moved(self, weights: Weights, members: Tensor | None = None) -> bool:
        """Whether any padded entry of the ``members`` (a ``[K]`` mask; all by default) is no
        longer 0: an update that does not keep them at 0. (A diverged member's are NaN: its
        non-finite residuals reach them, as they reach every entry.)"""
        keep = slice(None) if members is None else members.to(weights.device)
        return any(bool(t[keep].narrow(axis, self.m, t.shape[axis] - self.m).ne(0).any())
                   for name, t in weights.tensors.items() for axis in weights.hidden_axes(name))
