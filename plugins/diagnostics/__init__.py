"""The paper's diagnostics (docs/diagnostics.md): what overparam measures along a training run.

One module per topic: ``loss`` (f, Theorem 3's ratio), ``geometry`` (§4: (4.1)-(4.3)),
``stability`` (§5: (5.1), the radius of Theorems 3-4), ``chains`` ((4.4)-(4.6)),
``smoothness`` (Theorem 4), ``rate`` (Theorems 1-2). All read one shared ``framework.Probe``.
"""
from __future__ import annotations

from framework import Diagnostic, hookimpl
from plugins.diagnostics.chains import ChainNorms
from plugins.diagnostics.geometry import ForwardNorms, FreshRandomness, Separability
from plugins.diagnostics.loss import Loss, PLRatio
from plugins.diagnostics.rate import Rate
from plugins.diagnostics.smoothness import SemiSmoothness
from plugins.diagnostics.stability import DPrimeSparsity, PerturbationNorms, WeightDistance

DIAGNOSTICS: list[type[Diagnostic]] = [
    Loss,
    PLRatio,
    WeightDistance,
    DPrimeSparsity,
    PerturbationNorms,
    ForwardNorms,
    FreshRandomness,
    Separability,
    ChainNorms,
    SemiSmoothness,
    Rate,
]


@hookimpl
def overparam_register_diagnostics() -> list[type[Diagnostic]]:
    return list(DIAGNOSTICS)
