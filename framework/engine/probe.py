"""One measurement of an ensemble's state, with the work that diagnostics share done once.

Every diagnostic of §3-5 reads a few expensive quantities: the forward pass at W and at the
initialization W0 (for D - D0, h - h0 of (5.1)), the gradient of Fact 2.5 (Theorems 3-4), the
orthonormal bases U_l of §4 ((4.2), (4.3)). A ``Probe`` computes each of them the first time
a diagnostic asks and hands the same tensors to every later one; ``computations`` counts how
often each was computed, so "computed once per measurement" is checkable.
"""
from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import torch

from framework.engine.tensors import Problem, Weights
from framework.engine.kernel import TangentKernel
from framework.engine.network import Forward, Network
from framework.engine.rnn import member_columns
from framework.engine.seeds import purpose_seed, seeded_generator

if TYPE_CHECKING:
    from torch import Tensor

T = TypeVar("T")


class Probe:
    """The state of K networks at one step, and the shared quantities computed from it lazily.

    ``weights`` are those at ``step``, ``initial`` those at step 0 (W0, and A, B as
    initialized); ``network`` (``overparam.Network``, the model's mathematics) computes the
    forward passes and gradients. ``trained`` names the weights the optimizer moves; the
    paper's quantities are those of the network's default-trained weights whatever else is
    trained (Theorems 1-4 train W alone, and so do these diagnostics): ``gradients`` holds
    theirs, and ``primary``, the first of them (W), is the weight whose distance and
    perturbations the diagnostics of §5 measure. For diagnostics that look at the run so far
    (``rate``), ``history_steps`` are the logged steps up to now and ``history_loss [T, K]``
    the f measured at them; ``every_step_loss [t + 1, K]``, f(W_s) at every step s up to now
    where training computed it (a full-batch gradient's forward pass, and the logged steps;
    NaN elsewhere), is there for a diagnostic that asks (``Diagnostic.uses_every_step_loss``). ``seed`` (one per member, or one for all) seeds the draws of
    diagnostics that draw (``semi_smoothness``), so a measurement can be repeated exactly.
    ``learning_rate`` ``[K]`` is the training's step size, for diagnostics that follow the
    optimizer's rule (``linearization_gap``'s GD twin). ``initial_cache`` is where quantities of
    the initialization that cost much (the tangent kernel K_0) are kept between the probes of
    one training: the same dict for every step.
    """

    def __init__(
        self,
        weights: Weights,
        initial: Weights,
        problem: Problem,
        *,
        network: Network,
        trained: Collection[str] = ("W",),
        step: int = 0,
        history_steps: Sequence[int] = (),
        history_loss: Tensor | None = None,
        every_step_loss: Tensor | None = None,
        seed: int | Sequence[int] = 0,
        learning_rate: Tensor | None = None,
        initial_cache: dict[str, Any] | None = None,
    ) -> None:
        if history_loss is not None and history_loss.shape[0] != len(history_steps):
            raise ValueError(
                f"history_loss has {history_loss.shape[0]} rows but there are {len(history_steps)} history_steps"
            )
        self.network = network
        self.weights = weights
        self.initial = initial
        self.problem = problem
        self.trained = tuple(trained)
        self.step = step
        self.history_steps = list(history_steps)
        self.history_loss = history_loss
        self.every_step_loss = every_step_loss
        self.seeds = [int(seed)] * weights.K if isinstance(seed, int) else [int(s) for s in seed]
        self.computations: Counter[str] = Counter()
        self._cache: dict[str, Any] = {}
        self.learning_rate = learning_rate
        self._initial_cache: dict[str, Any] = {} if initial_cache is None else initial_cache

    @property
    def seeds(self) -> list[int]:
        """One seed per member for the draws (``generators``)."""
        if self._seeds is None:
            self.seeds = self._seeds_to_come()
        return self._seeds

    @seeds.setter
    def seeds(self, seeds: Sequence[int]) -> None:
        values = [int(s) for s in seeds]
        if len(values) != self.K:
            raise ValueError(f"{len(values)} seeds for an ensemble of K = {self.K}")
        self._seeds: list[int] | None = values

    def reseeded(self, seed: Sequence[int] | Callable[[], Sequence[int]]) -> Probe:
        """The same measurement with other seeds for the draws (one per member): it shares
        every quantity computed so far and later, and their counts, with this probe. ``seed``
        may be a function giving them, called only if a diagnostic draws (deriving a seed per
        member, diagnostic and step costs more than a tiny network's measurement)."""
        other = copy.copy(self)
        if callable(seed):
            other._seeds, other._seeds_to_come = None, seed
        else:
            other.seeds = seed
        return other

    def once_per_training(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()`` the first time a probe of this training asks for ``key``, and that same
        value for every later probe of the training: for a diagnostic's quantities of the data or
        of the initialization, which training does not change (``kernel_prediction``'s
        eigendecomposition of the infinite-width kernel). Every diagnostic of the training shares
        the keys: begin yours with your diagnostic's name."""
        return self._once(key, compute, self._initial_cache)

    def _once(self, key: str, compute: Callable[[], T], cache: dict[str, Any] | None = None) -> T:
        """The value of ``key`` in ``cache`` (this measurement's by default), computed (and counted)
        on first use; in ``_initial_cache``, the first probe of the training that asks computes it."""
        cache = self._cache if cache is None else cache
        if key not in cache:
            cache[key] = compute()
            self.computations[key] += 1
        return cache[key]

    @property
    def K(self) -> int:
        return self.weights.K

    @property
    def m(self) -> int:
        return self.weights.m

    @property
    def forward(self) -> Forward:
        """The forward pass at the current weights (§2.1)."""
        return self._once("forward", lambda: self.network.forward(self.weights, self.problem))

    @property
    def forward0(self) -> Forward:
        """The forward pass at initialization: the g̃, h̃, D̃ of §5."""
        return self._once("forward0", lambda: self.network.forward(self.initial, self.problem))

    @property
    def primary(self) -> str:
        """The name of the weight the diagnostics of §5 measure: the network's first default-trained one (W)."""
        return self.network.trained_by_default[0]

    @property
    def gradients(self) -> dict[str, Tensor]:
        """``∇f`` of each default-trained weight (for the Elman network ∇_W f, Fact 2.5), ``[K, *shape]``."""
        return self._gradients()[0]

    @property
    def gradient(self) -> Tensor:
        """``∇f`` of the primary weight (``∇_W f``), ``[K, *W's shape]``."""
        return self.gradients[self.primary]

    def _gradients(self) -> tuple[dict[str, Tensor], Tensor]:
        return self._once("gradient", lambda: self.network.gradient_and_sequence_norms(
            self.weights, self.problem, self.network.trained_by_default, self.forward))

    @property
    def sequence_gradient_norms(self) -> Tensor:
        """``||∇f_i||²`` over the default-trained weights for each sequence (``||∇_W f_i||_F²``,
        Theorem 3's upper bound), ``[K, n]``."""
        return self._once("sequence_gradient_norms", lambda: self._gradients()[1])

    @property
    def kernel(self) -> TangentKernel:
        """The tangent kernel ``J Jᵀ`` at the current weights, J in the default-trained weights
        (those of ``gradients``, so ``||∇f||² = rᵀ K r``): Theorem 3's lower bound is on its λ_min."""
        return self._once("kernel", lambda: TangentKernel(self.network, self.weights, self.problem,
                                                          self.network.trained_by_default, self.forward))

    @property
    def kernel_matrix(self) -> Tensor:
        """The matrix of ``kernel``, ``[K, N, N]`` (N products with K: see ``overparam.engine.TangentKernel``)."""
        return self._once("kernel_matrix", lambda: self.kernel.matrix())

    @property
    def kernel_matrix0(self) -> Tensor:
        """The tangent kernel K_0 at the initialization, ``[K, N, N]``, computed once per training."""
        return self._once("kernel_matrix0", lambda: TangentKernel(
            self.network, self.initial, self.problem, self.network.trained_by_default, self.forward0).matrix(),
            self._initial_cache)

    @property
    def kernel_eigenvectors0(self) -> tuple[Tensor, Tensor]:
        """The eigenvalues ``[K, N]`` (ascending) and eigenvectors ``[K, N, N]`` of K_0, once per training."""
        return self._once("kernel_eigenvectors0", lambda: torch.linalg.eigh(self.kernel_matrix0), self._initial_cache)

    @property
    def basis(self) -> tuple[Tensor, Tensor]:
        """``Q [K, m, r]``, ``R [K, r, nL]`` with ``H = QR``, r = min(m, nL), where the columns of
        H are ``h_{1,1}, …, h_{n,1}, h_{1,2}, …, h_{n,L}`` in the order of §4's U_l.

        The first ``n·l`` columns of Q are ``U_l = GS(h_{1,1}, …, h_{n,l})`` up to the sign of
        each column (QR is Gram–Schmidt done stably); where GS meets a vector already in the
        span, Q, like the paper's GS, continues with some orthonormal direction.
        """
        def compute() -> tuple[Tensor, Tensor]:
            stacked = member_columns(self.forward.h_layers)  # [K, m, L·n]
            return torch.linalg.qr(stacked, mode="reduced")

        return self._once("basis", compute)

    def U(self, layer: int) -> Tensor:
        """``U_layer``: an orthonormal basis of all h_{j,a} with a <= layer, ``[K, m, min(n·layer, m)]``
        (U_0 is empty)."""
        Q, _ = self.basis
        return Q[..., : self.problem.n * layer]

    @property
    def fresh(self) -> Tensor:
        """``(I - U_{l-1}U_{l-1}ᵀ) h_{i,l}`` in the coordinates of Q, ``[K, n, L, r]`` ((4.2)).

        Since ``h_{i,l} = Σ_c Q_c R_{c,(i,l)}`` and U_{l-1} is the first n(l-1) columns of Q,
        the projection keeps the rows c >= n(l-1) of R's column (i, l); Q being orthonormal,
        norms and inner products of these coordinates are those of the projected vectors.
        """
        def compute() -> Tensor:
            _, R = self.basis
            K, r, _ = R.shape
            n, L = self.problem.n, self.problem.L
            rows = torch.arange(r, device=R.device).view(r, 1)
            first_fresh_row = n * torch.arange(L, device=R.device).view(1, L)
            kept = (rows >= first_fresh_row).to(R.dtype)  # [r, L]
            coordinates = R.view(K, r, L, n) * kept.view(1, r, L, 1)
            return coordinates.permute(0, 3, 2, 1)

        return self._once("fresh", compute)

    def generators(self, purpose: str) -> list[torch.Generator]:
        """One CPU random stream per member for one diagnostic's draws, from that member's seed and
        the name ``purpose``: a member draws the same numbers whichever ensemble it is part of."""
        return [seeded_generator(purpose_seed(seed, purpose)) for seed in self.seeds]


def normal_per_member(generators: Sequence[torch.Generator], shape: Sequence[int], like: Tensor,
                      members: Sequence[int] | None = None) -> Tensor:
    """Standard normal draws ``[len(members), *shape]``, member k's slice from ``generators[k]``
    (all members by default), with ``like``'s dtype and device; drawn on the CPU, so the same
    seed gives the same numbers on every device."""
    chosen = range(len(generators)) if members is None else members
    draws = [torch.randn(*shape, generator=generators[k], dtype=like.dtype) for k in chosen]
    return torch.stack(draws).to(like.device)
