"""The report's claims on the variables of ``weight_distance``, ``dprime_sparsity`` and
``perturbation_norms``: the training radius of Theorems 3–4 and the forward stability of (5.1).

Each is a power law in the width m: √m‖W_T − W_0‖_2 bounded (exponent ≤ 0), ‖D'‖_0 ≤ O(m^{2/3})
(exponent ≤ 2/3), ‖h'‖ ≤ O(m^{−1/2}) (exponent ≤ −1/2).
"""
from __future__ import annotations

from overparam import Column
from overparam.claims import ReferenceLine, ScalingLawClaim, ScalingPanel


class TrainingRadius(ScalingLawClaim):
    """√m·‖W_T − W_0‖_2 against m: bounded if training stays in the radius poly(ϱ)/√m."""

    name = "training_radius"
    title = "Training stays within poly(ϱ)/√m of initialization"
    paper_ref = "Theorems 3–4"
    statement = ("Theorems 3 and 4 hold for ‖W − W0‖_2 ≤ poly(ϱ)/√m, and the convergence proofs keep the "
                 "trajectory inside that radius: √m·‖W_T − W_0‖_2 stays bounded as m grows (exponent in m at most 0).")
    figure = "distance"
    figure_title = "Theorems 3–4: distance from initialization at the end of training"
    order = 50
    panels = (
        ScalingPanel("weight_distance_spectral_sqrt_m", reduce="final", name="√m‖W_T − W_0‖_2", judged=True,
                     listed="fit and medians", ylabel=r"$\sqrt{m}\,\|W_T-W_0\|_2$"),
        ScalingPanel("weight_distance_spectral", reduce="final", listed="nothing", ylabel=r"$\|W_T-W_0\|_2$",
                     references=(ReferenceLine(-0.5, "∝ m^(−1/2)"),)),
    )
    bound = 0.0
    allowed = "below"
    columns = (Column("sqrt(m)||W-W0||_2", "weight_distance_spectral_sqrt_m"),)


class ReluSignFlips(ScalingLawClaim):
    """Largest ‖D'‖_0 over training against m, log-log, beside m^{2/3} and the trivial bound m: (5.1)."""

    name = "relu_sign_flips"
    title = "Few ReLU signs flip during training"
    paper_ref = "(5.1)"
    statement = ("‖D'_{i,l}‖_0 ≤ O(m^{2/3}) for every W within poly(ϱ)/√m of initialization: at most m^{2/3} of "
                 "the m signs flip, far below the trivial bound m. The fitted exponent in m should be at most 2/3.")
    figure = "dprime"
    figure_title = "(5.1): ReLU signs flipped since initialization, max over i, l and t"
    order = 60
    panels = (
        ScalingPanel("dprime_max", reduce="max", name="max_t ‖D'‖_0", judged=True, listed="fit and medians",
                     ylabel=r"$\max_{i,l,t}\ \|D_{i,l}-D^{(0)}_{i,l}\|_0$ (sign flips)",
                     references=(ReferenceLine(2 / 3, "paper: ∝ m^(2/3) (through first point)"),
                                 ReferenceLine(1.0, "trivial bound: m", anchored=False))),
    )
    bound = 2 / 3
    allowed = "below"
    columns = (Column("max ||D'||_0", "dprime_max"),)


class ForwardStability(ScalingLawClaim):
    """max_{i,l,t} ‖h − h0‖ and ‖g − g0‖ against m: O(m^{-1/2}) by (5.1)."""

    name = "forward_stability"
    title = "Forward stability: hidden states move by O(m^(−1/2))"
    paper_ref = "(5.1)"
    statement = ("‖h'_{i,l}‖, ‖g'_{i,l}‖ ≤ O(m^{−1/2}) for a perturbation ‖W'‖_2 ≤ poly(ϱ)/√m, with no exponential "
                 "growth in l: the exponent in m should be at most −1/2.")
    figure = "perturbation"
    figure_title = "(5.1): largest change of the hidden states since initialization"
    order = 70
    panels = (
        ScalingPanel("h_perturbation", reduce="max", over=("step", "layer"), name="max ‖h'‖", judged=True,
                     ylabel=r"$\max_{i,l,t}\ \|h_{i,l}-h^{(0)}_{i,l}\|_2$",
                     references=(ReferenceLine(-0.5, "paper: ∝ m^(−1/2) (through first point)"),)),
        ScalingPanel("g_perturbation", reduce="max", over=("step", "layer"), name="max ‖g'‖",
                     ylabel=r"$\max_{i,l,t}\ \|g_{i,l}-g^{(0)}_{i,l}\|_2$",
                     references=(ReferenceLine(-0.5, "paper: ∝ m^(−1/2) (through first point)"),)),
    )
    bound = -0.5
    allowed = "below"
