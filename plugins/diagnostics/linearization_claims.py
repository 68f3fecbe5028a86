"""The report's claim on the variables of ``linearization_gap``: a wide network trains as its
linearization around W0 does (the lazy regime that semi-smoothness, Theorem 4, keeps it near)."""
from __future__ import annotations

from overparam import Column
from overparam.claims import ReferenceLine, ScalingLawClaim, ScalingPanel


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
    panels = (
        ScalingPanel("twin_prediction_gap", reduce="max", name="max_t ‖r_t − r_lin,t‖/‖r_0‖", judged=True,
                     listed="fit and medians", ylabel=r"$\max_t\ \|r_t-r^{\mathrm{lin}}_t\|/\|r_0\|$",
                     references=(ReferenceLine(-0.5, "∝ m^(−1/2) (through first point)"),)),
        ScalingPanel("twin_loss_gap", reduce="max", name="max_t |f_t − f_lin,t|/f_0",
                     ylabel=r"$\max_t\ |f_t-f^{\mathrm{lin}}_t|/f_0$"),
    )
    bound = 0.0
    allowed = "below"
    columns = (Column("max twin gap", "twin_prediction_gap", "max"),)
