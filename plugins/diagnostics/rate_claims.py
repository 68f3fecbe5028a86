"""The report's claim on the variables of ``rate``: how the steps to a target scale (Theorems 1–2).

T = Ω̃(poly(n, d, L)/δ² · log(1/ε)) has no factor of m (once m is large enough), is polynomial
in L and n, and grows at most as δ⁻²: one statement per grid axis, and a descriptive fit for
every other numeric axis (a step-size constant, say), about which the paper says nothing.
"""
from __future__ import annotations

from typing import Self

from overparam import Column, StoreView
from overparam.claims import DEPTH_AXIS, ScalingLawClaim, ScalingPanel, WIDTH_AXIS

# axis: (statement, law, bound, allowed side of the exponent of T)
BY_AXIS: dict[str, tuple[str, str, float, str]] = {
    WIDTH_AXIS: ("T has no factor of m: once m ≥ poly(n, d, L, δ⁻¹), a wider network needs no more steps (the "
                 "step size η ∝ 1/m is already scaled with m).", "power", 0.0, "below"),
    DEPTH_AXIS: ("T grows polynomially in L, not exponentially (no 2^Ω(L) explosion or vanishing).",
                 "polynomial", 0.0, "below"),
    "n": ("T grows polynomially in n, not exponentially (no 2^Ω(L) explosion or vanishing).", "polynomial", 0.0,
          "below"),
    "delta": ("T = Õ(poly/δ²): as the separation δ shrinks, T grows at most as δ⁻², i.e. the exponent of T in δ "
              "is at least −2.", "power", -2.0, "above"),
}


class StepsToTarget(ScalingLawClaim):
    """Steps to target and fitted rate against each numeric grid axis, log-log, with judged exponents."""

    name = "steps_to_target"
    title = "Steps to target against the grid axes"
    paper_ref = "Theorems 1–2"
    statement = "T = Ω̃(poly(n, d, L)/δ² · log(1/ε)): no factor of m, polynomial in L and n, at most δ⁻²."
    figure = "speed"
    order = 30
    panels = (
        ScalingPanel("steps_to_target", reduce="final", judged=True),
        ScalingPanel("rate", reduce="final", judged=True, inverse=True),  # the rate is ∝ 1/T
    )
    axes = ()
    columns = (Column("rate", "rate"), Column("steps to target", "steps_to_target"))

    def missing(self, view: StoreView) -> str | None:
        reason = super().missing(view)
        if reason is None and not view.numeric_axes:
            return "the grid has no numeric axis with two or more values"
        return reason

    def instances(self, view: StoreView) -> list[Self]:
        """One claim per numeric grid axis: the paper's statement for it, or descriptive fits."""
        found = []
        for axis in view.numeric_axes:
            statement, law, bound, allowed = BY_AXIS.get(axis, (
                f"The paper makes no claim about the axis `{axis}`; the fits are descriptive.", "none", 0.0, "below"))
            found.append(self.along(axis=axis, axes=(axis,), title=f"Steps to target against {axis}",
                                    statement=statement, law=law, bound=bound, allowed=allowed,
                                    figure=f"speed_{axis}",
                                    figure_title=f"Training speed against {axis}; dashed: power-law fit"))
        return found
