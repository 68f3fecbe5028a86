"""The tensors an ensemble of K networks shares out: its weights and its training problem.

Every tensor carries a leading ensemble axis K (docs/architecture.md, "Ensembles"): K independent networks of one
shape advance together in one batched computation; K = 1 is the plain case. Components make
K = 1 objects; ``stack`` joins members into an ensemble and ``member`` takes one back out.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
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


def per_member(values: Tensor, like: Tensor) -> Tensor:
    """Per-member ``values [K]`` shaped to broadcast against ``like [K, ...]`` (a learning rate
    per member against a weight tensor)."""
    return values.view(-1, *[1] * (like.dim() - 1))


HIDDEN = "m"  # the dimension label of a model's hidden width in ``Weights.dims``


@dataclass(frozen=True)
class WeightLayout:
    """The weights one network of a model has, before any is drawn: each weight's axis labels
    (``dims``, the model's declaration, in the order initializers draw) and the size of every
    label (``sizes``: ``m``, the data's ``d_x`` and ``d``, and any label of the model's own).
    An initializer reads its shapes from here, so one initializer serves every model whose
    weights it knows how to draw (``overparam.Initializer``)."""

    dims: Mapping[str, tuple[str, ...]]
    sizes: Mapping[str, int]

    def __post_init__(self) -> None:
        unsized = sorted({label for labels in self.dims.values() for label in labels} - set(self.sizes))
        if unsized:
            raise ValueError(f"the axis labels {unsized} of the weights {list(self.dims)} have no size")

    def shape(self, name: str) -> tuple[int, ...]:
        """The shape of weight ``name`` for one network (no ensemble axis)."""
        return tuple(self.sizes[label] for label in self.dims[name])

    def weights(self, tensors: Mapping[str, Tensor]) -> Weights:
        """One network's weights (K = 1) from tensors of this layout's shapes, in declaration order."""
        missing = [name for name in self.dims if name not in tensors]
        if missing:
            raise ValueError(f"no tensors for the weights {missing} of {list(self.dims)}")
        return Weights({name: tensors[name].reshape(1, *self.shape(name)) for name in self.dims}, self.dims)


class Weights:
    """The weights of K networks of one model, batched: named tensors ``[K, *shape]``.

    ``dims`` labels each tensor's axes after K, as its model declares them (``overparam.Model``):
    the Elman network of §2.1 has ``W ("m", "m")``, ``A ("m", "d_x")`` and ``B ("d", "m")``. The
    labels say which axes are the hidden width ``m`` (zero padding appends neurons along them,
    ``framework.engine.padding``), so nothing outside a model needs to know its weights. A
    weight is read as an attribute (``weights.W``) or by name (``weights["W"]``); the order of
    ``dims`` is the model's declaration order, in which initializers draw.
    """

    __slots__ = ("tensors", "dims")

    def __init__(self, tensors: Mapping[str, Tensor], dims: Mapping[str, tuple[str, ...]]):
        if list(tensors) != list(dims):
            raise ValueError(f"weights {list(tensors)} do not match their declared dims {list(dims)}")
        sizes: dict[str, int] = {}
        K = {t.shape[0] for t in tensors.values()}
        for name, tensor in tensors.items():
            labels = dims[name]
            if tensor.dim() != len(labels) + 1:
                raise ValueError(f"weight {name} has shape {tuple(tensor.shape)}; expected [K, {', '.join(labels)}]")
            for label, size in zip(labels, tensor.shape[1:]):
                if sizes.setdefault(label, size) != size:
                    raise ValueError(f"inconsistent weight shapes: {name} {tuple(tensor.shape)} has {label} = {size}, "
                                     f"another weight {label} = {sizes[label]}")
        if len(K) > 1:
            raise ValueError(f"weights of different ensemble sizes K: {sorted(K)}")
        object.__setattr__(self, "tensors", dict(tensors))
        object.__setattr__(self, "dims", {name: tuple(labels) for name, labels in dims.items()})

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Weights are immutable: use replace()")

    def __getattr__(self, name: str) -> Tensor:
        try:
            return object.__getattribute__(self, "tensors")[name]
        except KeyError:
            raise AttributeError(f"these weights have no {name!r}; they have {', '.join(self.tensors)}") from None

    def __getitem__(self, name: str) -> Tensor:
        return self.tensors[name]

    def __contains__(self, name: object) -> bool:
        return name in self.tensors

    def __reduce__(self) -> tuple:
        return (Weights, (self.tensors, self.dims))

    def __repr__(self) -> str:
        shapes = ", ".join(f"{name} {tuple(t.shape)}" for name, t in self.tensors.items())
        return f"Weights({shapes})"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.tensors)

    def hidden_axes(self, name: str) -> tuple[int, ...]:
        """The axes of weight ``name`` (counting K as axis 0) that are the hidden width ``m``."""
        return tuple(axis for axis, label in enumerate(self.dims[name], start=1) if label == HIDDEN)

    def size(self, label: str) -> int:
        """The size of the axes labelled ``label`` (``"m"``, ``"d"``, ...)."""
        for name, labels in self.dims.items():
            if label in labels:
                return self.tensors[name].shape[1 + labels.index(label)]
        raise KeyError(f"no weight has an axis {label!r}")

    @property
    def first(self) -> Tensor:
        return next(iter(self.tensors.values()))

    @property
    def K(self) -> int:
        return self.first.shape[0]

    @property
    def m(self) -> int:
        """The hidden width."""
        return self.size(HIDDEN)

    @property
    def d(self) -> int:
        return self.size("d")

    @property
    def dtype(self) -> torch.dtype:
        return self.first.dtype

    @property
    def device(self) -> torch.device:
        return self.first.device

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> Weights:
        """The same weights on another device or in another dtype."""
        return self.map(lambda t: t.to(device=device, dtype=dtype))

    def map(self, function: Callable[[Tensor], Tensor]) -> Weights:
        """``function`` applied to every tensor."""
        return Weights({name: function(t) for name, t in self.tensors.items()}, self.dims)

    def replace(self, **tensors: Tensor) -> Weights:
        """A copy with some weights replaced."""
        unknown = set(tensors) - set(self.tensors)
        if unknown:
            raise ValueError(f"these weights have no {sorted(unknown)}; they have {', '.join(self.tensors)}")
        return Weights({**self.tensors, **tensors}, self.dims)

    def member(self, k: int) -> Weights:
        """Member k as a K = 1 ensemble."""
        return self.members(k, k + 1)

    def members(self, start: int, stop: int) -> Weights:
        """Members ``start`` to ``stop`` (not included) as an ensemble of their own (views)."""
        return self.map(lambda t: t[start:stop])

    @staticmethod
    def stack(members: Sequence[Weights]) -> Weights:
        """Join ensembles of one model along K."""
        dims = members[0].dims
        if any(w.dims != dims for w in members):
            raise ValueError("cannot stack the weights of different models")
        return Weights({name: torch.cat([w.tensors[name] for w in members]) for name in dims}, dims)


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
        return self.members(k, k + 1)

    def members(self, start: int, stop: int) -> Problem:
        """Members ``start`` to ``stop`` (not included) as a problem of their own (views)."""
        return Problem(self.X[start:stop], self.Y[start:stop], self.delta[start:stop], self.padding)

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
