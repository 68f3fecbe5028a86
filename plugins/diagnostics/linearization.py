"""The network against its linearized twin along a GD training: how far training leaves the linear
("lazy") regime that semi-smoothness (Theorem 4) keeps a wide network near.

The twin is the first-order model r_lin(W) = r(W0) + J_0 (W − W0) (J_0 the Jacobian of the scored
residuals in the trained weights at W0), trained by GD from W0 with the network's learning rate η.
Its residuals obey r_lin,t+1 = r_lin,t − η J_0 J_0ᵀ r_lin,t, so after t steps

    r_lin,t = (I − η K_0)^t r(W0) = V diag((1 − η λ)^t) Vᵀ r(W0),   K_0 = J_0 J_0ᵀ = V diag(λ) Vᵀ,

exactly: the twin needs K_0 (assembled once per training) and one eigendecomposition, no training
of its own. The optimizer ``linearized`` trains the same twin step by step in weight space, and
its losses equal these (tests/test_linearized.py).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from overparam import Diagnostic, Output, Params, Probe
from overparam.engine import member_sum, per_member

if TYPE_CHECKING:
    from torch import Tensor


def replayed_step_size(name: str, probe: Probe) -> Tensor:
    """The training's step size η ``[K]``, for the diagnostic ``name`` that replays GD on the
    default-trained weights; refused where there is none, or where other weights are trained too."""
    if probe.learning_rate is None:
        raise ValueError(f"{name} needs the training's learning rate: the probe was given none")
    if set(probe.trained) != set(probe.network.trained_by_default):
        raise ValueError(f"{name} replays GD on {', '.join(probe.network.trained_by_default)} alone, "
                         f"but this training trains {', '.join(probe.trained)} (train: W)")
    return probe.learning_rate


def against_linear_gd(probe: Probe, rate: Tensor, values: Tensor, vectors: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The probed network against GD with step size η (``rate [K]``) from its own r_0 = r(W0) on
    the linear model whose kernel is ``K = V diag(λ) Vᵀ`` (``values [K, N]``, ``vectors [K, N, N]``):
    after t steps ``r_lin,t = (I − η K)^t r_0 = V diag((1 − η λ)^t) Vᵀ r_0``, exactly. Returns
    ``‖r_t − r_lin,t‖/‖r_0‖``, ``|f_t − f_lin,t|/f_0`` and ``f_lin,t = ½‖r_lin,t‖²``, each ``[K]``.
    The products are sums of elementwise products: a matrix-vector kernel would round by the
    alignment of each member's block, and so by its place in the ensemble."""
    start = probe.kernel.scored(probe.forward0.residual_members)  # r_0 [K, N]
    now = probe.kernel.scored(probe.forward.residual_members)
    factor = (1 - per_member(rate.to(values.dtype), values) * values) ** probe.step
    coordinates = factor * (vectors * start.unsqueeze(-1)).sum(dim=-2)
    linear = (vectors * coordinates.unsqueeze(-2)).sum(dim=-1)
    f0, f, f_linear = (0.5 * member_sum(r.square()) for r in (start, now, linear))
    return member_sum((now - linear).square()).sqrt() / (2 * f0).sqrt(), (f - f_linear).abs() / f0, f_linear


class LinearizationGap(Diagnostic):
    """The network's residuals and loss against those of its GD-trained linearization around W0.

    ``twin_prediction_gap`` = ||r_t − r_lin,t|| / ||r_0|| (the predictions' difference: the
    targets cancel), ``twin_loss_gap`` = |f_t − f_lin,t| / f_0, both as fractions of the initial
    error, and ``twin_loss`` = f_lin,t. For trainings by full-batch GD (``gd``), whose step size
    the twin takes; J in the model's default-trained weights (W), as ``gd`` trains by default.
    """

    name: ClassVar[str] = "linearization_gap"
    optimizers = frozenset({"gd"})
    outputs: ClassVar[dict[str, Output]] = {
        "twin_prediction_gap": Output(long_name="||r_t - r_lin,t|| / ||r_0||, r_lin the linearized model trained by GD",
                                      paper_ref="Theorem 4"),
        "twin_loss_gap": Output(long_name="|f(W_t) - f_lin,t| / f(W_0)", paper_ref="Theorem 4"),
        "twin_loss": Output(long_name="f_lin,t = ½||(I - η K_0)^t r_0||², the linearized model's loss",
                            paper_ref="Theorem 4"),
    }

    def measure(self, params: Params, probe: Probe) -> dict[str, Tensor]:
        rate = replayed_step_size(self.name, probe)
        prediction_gap, loss_gap, loss = against_linear_gd(probe, rate, *probe.kernel_eigenvectors0)
        return {"twin_prediction_gap": prediction_gap, "twin_loss_gap": loss_gap, "twin_loss": loss}
