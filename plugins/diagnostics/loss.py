"""The objective and its gradient: f(W) (§2.2) and the Polyak–Łojasiewicz ratio (Theorem 3)."""
from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar


from overparam import Diagnostic, Output, Params, Probe
from overparam.engine import member_sum

if TYPE_CHECKING:
    from torch import Tensor


class Loss(Diagnostic):
    """The objective f(W) = Σ_i ½ Σ_{l=2..L} ||B h_{i,l} - y*_{i,l}||² (§2.2)."""

    name: ClassVar[str] = "loss"
    outputs: ClassVar[dict[str, Output]] = {
        "loss": Output(long_name="f(W), summed over sequences", paper_ref="§2.2", units="1"),
    }

    def measure(self, params: Params, probe: Probe) -> dict[str, Tensor]:
        return {"loss": probe.forward.loss}


class PLRatio(Diagnostic):
    """Gradient norm against the objective, ||∇f(W)||_F² / (m f(W)) (Theorem 3).

    Theorem 3 bounds it below by δ/poly(ρ) (the Polyak–Łojasiewicz condition that makes GD
    converge linearly) and bounds ||∇f(W)||_F² and every ||∇f_i(W)||_F² above by
    poly(ρ)·m·f(W); ``pl_ratio_sequence_max`` is the upper-bound side for single sequences,
    the one that SGD's step size (Theorem 2) has to respect. Both use the gradient of the
    model's default-trained weights (∇_W f, the paper's gradient; all W_l of the feed-forward
    network, as in the companion paper's Theorem 3), whatever else is trained.
    """

    name: ClassVar[str] = "pl_ratio"
    outputs: ClassVar[dict[str, Output]] = {
        "pl_ratio": Output(long_name="||∇f(W)||_F² / (m f(W))", paper_ref="Theorem 3", units="1"),
        "pl_ratio_sequence_max": Output(
            long_name="max_i ||∇f_i(W)||_F² / (m f(W))", paper_ref="Theorem 3 (upper bound)", units="1"
        ),
    }

    def measure(self, params: Params, probe: Probe) -> dict[str, Tensor]:
        scale = probe.m * probe.forward.loss
        full = sum(member_sum(g.square()) for g in probe.gradients.values())
        return {
            "pl_ratio": full / scale,
            "pl_ratio_sequence_max": probe.sequence_gradient_norms.amax(dim=1) / scale,
        }
