"""The report's claim on the variables of ``linearization_gap``: a wide network trains as its
linearization around W0 does (the lazy regime that semi-smoothness, Theorem 4, keeps it near)."""
from __future__ import annotations

from overparam import Column
from overparam.claims import ReferenceLine, ScalingLawClaim, ScalingPanel


def against_prediction_panels(gap: str, loss_gap: str, subscript: str, tex: str) -> tuple[ScalingPanel, ScalingPanel]:
    """The panels of a claim that training follows GD on a linear model (the two gaps of
    ``against_linear_gd``, stored as ``gap`` and ``loss_gap``, each at its largest over
    training): the residuals' distance, judged against m beside the central-limit rate, and the
    losses' (the prediction's residuals written r_{subscript},t, ``tex`` in the axis labels)."""
    return (
        ScalingPanel(gap, reduce="max", name=f"max_t ‖r_t − r_{subscript},t‖/‖r_0‖",
                     judged=True, listed="fit and medians", ylabel=rf"$\max_t\ \|r_t-r^{{{tex}}}_t\|/\|r_0\|$",
                     references=(ReferenceLine(-0.5, "∝ m^(−1/2) (through first point)"),)),
        ScalingPanel(loss_gap, reduce="max", name=f"max_t |f_t − f_{subscript},t|/f_0",
                     ylabel=rf"$\max_t\ |f_t-f^{{{tex}}}_t|/f_0$"),
    )


class LinearRegime(ScalingLawClaim):
    """Largest distance over training between the network and its GD-trained linearization, against m."""

    name = "linear_regime"
    title = "The network trains as its linearization around W0"
    paper_ref = "Theorem 4, (5.1)"
    statement = ("Within poly(ϱ)/√m of W0, f is semi-smooth (Theorem 4) and the hidden states move by O(m^(−1/2)) "
                 "((5.1)): the network stays near its first-order model r(W0) + J(W0)(W − W0), and the two, trained "
                 "by GD from W0 with one step size, predict ever more alike as m grows: max_t ‖r_t − r_lin,t‖/‖r_0‖ "
                 "shrinks (exponent in m below 0).")
    figure = "linear_regime"
    figure_title = "Network against its linearized twin (GD, same W0 and step size), max over training"
    order = 113
    panels = against_prediction_panels("twin_prediction_gap", "twin_loss_gap", "lin", r"\mathrm{lin}")
    bound = 0.0
    allowed = "below"
    columns = (Column("max twin gap", "twin_prediction_gap", "max"),)
