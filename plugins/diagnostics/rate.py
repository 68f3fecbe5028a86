"""The convergence rate of training, from the logged trajectory of f (Theorems 1-2)."""
from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import torch
from pydantic import Field

from overparam import Diagnostic, Output, Params, Probe

if TYPE_CHECKING:
    from torch import Tensor


class RateParams(Params):
    target: float = Field(1e-2, gt=0, lt=1, description="steps_to_target: first step with f <= target·f(W0)")
    floor: float = Field(
        1e-14, ge=0, lt=1, description="points with f < floor·f(W0) are left out of the fit (round-off, not training)"
    )
    fit_from: float = Field(
        0.0, ge=0, lt=1, description="fit only the logged steps t >= fit_from·(last step): the late, linear phase"
    )


class Rate(Diagnostic):
    """Fitted linear-convergence rate of log f over the logged trajectory (Theorems 1-2).

    Theorems 1-2: GD and SGD reach f <= ε in T = Õ(poly(n, d, L)/δ² · log(1/ε)) steps, i.e.
    f decays linearly: log f(W_t) ≈ c - rate·t. ``rate`` is minus the least-squares slope of
    ln f against t over the logged steps with finite f >= floor·f(W0) and t >= fit_from·T
    (NaN with fewer than two such points); ``steps_to_target`` is the first step with
    f <= target·f(W0) (NaN if none), read from f at every step where training computed it
    (``Probe.every_step_loss``): exact for full-batch GD, whose every update computes f; for
    SGD, which never computes f on the whole set between logged steps, the first logged one.
    Measured once, at the end, on the probe's history.
    """

    name: ClassVar[str] = "rate"
    when = "end"
    uses_every_step_loss = True
    Params: ClassVar[type[Params]] = RateParams
    outputs: ClassVar[dict[str, Output]] = {
        "rate": Output(long_name="-d ln f / dt, least squares over the logged steps", paper_ref="Theorems 1-2",
                       units="1/step"),
        "steps_to_target": Output(long_name="first step with f <= target f(W0)", paper_ref="Theorems 1-2",
                                  units="step"),
    }

    def measure(self, params: RateParams, probe: Probe) -> dict[str, Tensor]:
        if probe.history_loss is None or not probe.history_steps:
            raise ValueError("rate needs the logged loss history: the probe has none")
        # member-major [K, T], reduced along its contiguous last axis: the same summation order
        # for a member whatever the ensemble's size
        f = probe.history_loss.mT.contiguous()
        steps = torch.tensor(probe.history_steps, dtype=f.dtype, device=f.device).unsqueeze(0)  # [1, T]
        f0 = probe.forward0.loss.to(f.dtype).unsqueeze(1)  # [K, 1]
        fitted = torch.isfinite(f) & (f > 0) & (f >= params.floor * f0) & (steps >= params.fit_from * steps.max())
        weight = fitted.to(f.dtype)
        count = weight.sum(dim=1, keepdim=True)
        log_f = torch.where(fitted, f.clamp_min(torch.finfo(f.dtype).tiny).log(), torch.zeros_like(f))
        mean_t = (weight * steps).sum(dim=1, keepdim=True) / count
        mean_y = (weight * log_f).sum(dim=1, keepdim=True) / count
        centered_t = (steps - mean_t) * weight
        slope = ((centered_t * (log_f - mean_y)).sum(dim=1) / centered_t.square().sum(dim=1))
        rate = torch.where(count.squeeze(1) >= 2, -slope, torch.full_like(slope, float("nan")))
        every, at = f, steps  # the logged steps, where no every-step history is kept
        if probe.every_step_loss is not None:
            every = probe.every_step_loss.mT.contiguous().to(f.dtype)  # [K, t + 1]
            at = torch.arange(every.shape[1], dtype=f.dtype, device=f.device).unsqueeze(0)
        reached = every <= params.target * f0  # [K, ·]; NaN compares False
        first = torch.where(reached, at.expand_as(every), torch.full_like(every, float("inf"))).amin(dim=1)
        steps_to_target = torch.where(torch.isinf(first), torch.full_like(first, float("nan")), first)
        return {"rate": rate, "steps_to_target": steps_to_target}
