"""`w_spectral_norm`: the spectral norm of the recurrent weight matrix W."""
from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from overparam import Diagnostic, Output, Params, Probe


class WSpectralNorm(Diagnostic[Params]):
    """The spectral norm ||W||_2 of the recurrent weights, per ensemble member."""

    name: ClassVar[str] = "w_spectral_norm"
    outputs = {
        "w_spectral_norm": Output(
            long_name="||W||_2, spectral norm of the recurrent weights",
            paper_ref="Definition 2.3 (W0 ~ N(0, 2/m) has ||W0||_2 -> 2 sqrt(2))",
            units="1",
        ),
    }
    when = "schedule"

    def measure(self, params: Params, probe: Probe) -> dict[str, Tensor]:
        """``{"w_spectral_norm": [K]}``.

        Assumes only that ``probe.weights`` is an ``overparam.Weights`` (``W [K, m, m]``), so it
        works with any probe object that carries the current weights.
        """
        return {"w_spectral_norm": torch.linalg.matrix_norm(probe.weights.W, ord=2)}
