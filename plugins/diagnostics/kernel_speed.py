"""How fast the infinite-width kernel predicts a task to train, from the data and the network's own
r_0, before any training: the steps to target of GD on the linear model of m·K_∞, and Arora et al.'s
data-dependent measure of the same.

GD with step size η on the linear model of kernel m·K_∞ = V diag(λ) Vᵀ (``kernel_prediction``)
has, after t steps, the loss

    f_∞,t = ½‖(I − η m K_∞)^t r_0‖² = Σ_k (1 − η λ_k)^{2t} (v_kᵀ r_0)² / 2,

which falls with t whenever η λ_max <= 2 (each factor then lies in [0, 1]). Arora, Du, Hu, Li and
Wang ("Fine-grained analysis of optimization and generalization for overparameterized two-layer
neural networks", 2019, Theorem 4.1) read training speed off that sum, with r_0 = −y (their
initialization makes the output at W0 small): labels lying along the kernel's large eigenvectors
train fast, labels along its small ones slowly, as random labels do. Their one-number summary is
yᵀ(H^∞)^{-1}y (the complexity measure of their Theorem 5.1), here in steps:

    yᵀ (η m K_∞)^{-1} y / ‖y‖² = Σ_k p_k / (η λ_k),   p_k = (v_kᵀ y)² / ‖y‖²,

the mean of the time constants 1/(η λ_k) weighted by the targets' projections; Σ_t f_∞,t / f_0,
the area under the predicted loss curve from r_0 = −y, is half of it to first order in η λ.
Definition 2.3's read-out does not make the output at W0 small, so r_0 = f(W0) − y ≠ −y, and
the same measure of r_0 is given beside it: the prediction of steps is made from r_0.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import torch
from pydantic import Field

from overparam import Diagnostic, Output, Params, Probe
from overparam.engine import member_sum, per_member
from plugins.diagnostics.kernel_limit import PredictionParams, predicting_kernel
from plugins.diagnostics.linearization import replayed_step_size

if TYPE_CHECKING:
    from torch import Tensor

LONGEST_SEARCH = 2**52  # steps: the largest count float64 holds exactly; a prediction beyond is NaN


def first_step_at_or_below(weights: Tensor, factors: Tensor, level: Tensor) -> Tensor:
    """The first integer t >= 0 with Σ_k weights_k · factors_k^t <= level, per member ``[K]``, for
    ``weights`` >= 0 and ``factors`` in [0, 1] (``[K, N]``), so that the sum never rises; NaN where
    it stays above ``level [K]`` for ``LONGEST_SEARCH`` steps. Found by doubling t, then bisection:
    about 2·log2(t) evaluations of the sum, each over all members at once."""
    def value(t: Tensor) -> Tensor:
        return (weights * factors ** t.unsqueeze(-1)).sum(dim=-1)

    high = torch.ones_like(level)
    above = value(high) > level
    while bool(above.any()) and float(high.max()) < LONGEST_SEARCH:
        high = torch.where(above, 2 * high, high)
        above = value(high) > level
    low = torch.where(high > 1, high / 2, torch.zeros_like(high))  # the sum is above level at low > 0
    while bool((high - low > 1).any()):
        middle = torch.floor((low + high) / 2)
        below = value(middle) <= level
        high, low = torch.where(below, middle, high), torch.where(below, low, middle)
    first = torch.where(value(torch.zeros_like(level)) <= level, torch.zeros_like(high), high)
    return torch.where(above, torch.full_like(first, float("nan")), first)


class SpeedParams(PredictionParams):
    target: float = Field(1e-2, gt=0, lt=1, description="kernel_steps_to_target: first step with f_∞,t <= "
                                                        "target·f(W0); rate's steps_to_target uses the same default")


class KernelSpeed(Diagnostic):
    """How fast the infinite-width kernel predicts training to be: steps to target from r_0, yᵀ(η m K_∞)^{-1}y/‖y‖².

    ``kernel_steps_to_target`` is the first step t at which the loss of GD on the linear model of
    m·K_∞ (``kernel_prediction``'s f_∞,t, with the training's step size η, from the network's
    own r_0) falls to ``target``·f(W0): ``rate``'s ``steps_to_target`` as the kernel predicts it,
    exact (doubling and bisection on the eigen-expansion of f_∞,t), also beyond the training's
    last step; NaN where η λ_max > 2 (the prediction diverges). ``kernel_complexity`` is
    yᵀ(η m K_∞)^{-1}y/‖y‖² of the scored targets y, Arora et al.'s measure, and
    ``kernel_residual_complexity`` the same of r_0, both in steps, the inverse taken as a
    pseudo-inverse (eigenvalues at or below N·ε·λ_max, round-off of a zero one, left out). Measured once, at W0, from the
    eigendecomposition ``kernel_prediction`` uses (once per training, for both). ``kernel:
    initial`` puts K_0 in place of m·K_∞: the steps of ``linearization_gap``'s twin. For ``gd``
    trainings of W, Elman networks drawn by ``paper``.
    """

    name: ClassVar[str] = "kernel_speed"
    when = "init"
    Params: ClassVar[type[Params]] = SpeedParams
    optimizers = frozenset({"gd"})
    needs = frozenset({"recurrent", "sequence"})
    outputs: ClassVar[dict[str, Output]] = {
        "kernel_steps_to_target": Output(long_name="first step t with f_∞,t = ½||(I - η m K_∞)^t r_0||² <= target f(W0)",
                                         paper_ref="Definition 2.3, Theorem 1", units="step"),
        "kernel_complexity": Output(long_name="yᵀ (η m K_∞)^(-1) y / ||y||², Arora et al.'s yᵀ(H^∞)^(-1)y of the targets",
                                    paper_ref="Definition 2.3, Theorem 1", units="step"),
        "kernel_residual_complexity": Output(long_name="r_0ᵀ (η m K_∞)^(-1) r_0 / ||r_0||², the same of r_0 = f(W0) - y",
                                             paper_ref="Definition 2.3, Theorem 1", units="step"),
    }

    def measure(self, params: SpeedParams, probe: Probe) -> dict[str, Tensor]:
        rate = replayed_step_size(self.name, probe)
        values, vectors = predicting_kernel(params.kernel, probe)
        start = probe.kernel.scored(probe.forward0.residual_members)  # r_0 [K, N]
        targets = probe.kernel.scored(probe.problem.Y.transpose(1, 2).to(start.dtype))  # y [K, N]
        steps = per_member(rate.to(values.dtype), values) * values.clamp_min(0)  # η λ_k; negative λ: round-off
        projections = projected(vectors, start)
        reached = first_step_at_or_below(projections, (1 - steps).square().clamp_max(1),
                                         params.target * member_sum(start.square()))
        diverges = (steps > 2).any(dim=-1)
        return {"kernel_steps_to_target": torch.where(diverges, torch.full_like(reached, float("nan")), reached),
                "kernel_complexity": inverse_weighted(projected(vectors, targets), values, steps),
                "kernel_residual_complexity": inverse_weighted(projections, values, steps)}


def projected(vectors: Tensor, r: Tensor) -> Tensor:
    """(v_kᵀ r)² ``[K, N]``, by sums of elementwise products (as ``against_linear_gd``: the same
    rounding for a member whatever the ensemble)."""
    return (vectors * r.unsqueeze(-1)).sum(dim=-2).square()


def inverse_weighted(projections: Tensor, values: Tensor, steps: Tensor) -> Tensor:
    """Σ_k p_k / (η λ_k) over Σ_k p_k, ``[K]``: rᵀ(η K)^+ r / ‖r‖², leaving out the eigenvalues at or
    below N·ε·λ_max (a pseudo-inverse's cutoff)."""
    cutoff = values.shape[-1] * torch.finfo(values.dtype).eps * values.amax(dim=-1, keepdim=True)
    kept = values > cutoff
    inverse = torch.where(kept, projections / torch.where(kept, steps, torch.ones_like(steps)),
                          torch.zeros_like(steps))
    return inverse.sum(dim=-1) / projections.sum(dim=-1)
