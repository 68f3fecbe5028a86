"""The paper's diagnostics (docs/diagnostics.md): what overparam measures along a training run.

One module per topic: ``loss`` (f, Theorem 3's ratio), ``geometry`` (§4: (4.1)-(4.3)),
``stability`` (§5: (5.1), the radius of Theorems 3-4), ``chains`` ((4.4)-(4.6)),
``smoothness`` (Theorem 4), ``rate`` (Theorems 1-2), ``kernel`` (the tangent kernel J Jᵀ, Theorems
3-4), ``kernel_limit`` and ``kernel_speed`` (its infinite-width limit, and what that predicts of
training). All read one shared ``overparam.Probe``.

Beside each module, ``<module>_claims`` holds the paper's claims on its variables, as the report
tests them (``overparam.Claim``, docs/report.md), and ``output_scale_claims`` those on a scan of a
model's output scale (lazy training); they are imported only when claims are asked for, so
planning a run does not load the report's plotting.
"""
from __future__ import annotations

from overparam import Claim, Diagnostic, hookimpl
from plugins.diagnostics.chains import ChainNorms
from plugins.diagnostics.kernel import KernelDrift, KernelSpectrum
from plugins.diagnostics.kernel_limit import KernelDeviation, KernelPrediction
from plugins.diagnostics.kernel_speed import KernelSpeed
from plugins.diagnostics.linearization import LinearizationGap
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
    KernelSpectrum,
    KernelDrift,
    KernelDeviation,
    LinearizationGap,
    KernelPrediction,
    KernelSpeed,
]


@hookimpl
def overparam_register_diagnostics() -> list[type[Diagnostic]]:
    return list(DIAGNOSTICS)


@hookimpl
def overparam_register_claims() -> list[type[Claim]]:
    from plugins.diagnostics.chains_claims import BackwardChainsScale, ChainsDoNotBlowUp
    from plugins.diagnostics.kernel_claims import (
        KernelLowerBound, KernelNearItsLimit, KernelStaysPut, TrainingFollowsKernel,
    )
    from plugins.diagnostics.kernel_speed_claims import KernelOrdersTasks, KernelTaskSteps
    from plugins.diagnostics.linearization_claims import LinearRegime
    from plugins.diagnostics.geometry_claims import ForwardNormsBounded, FreshRandomness, SeparabilitySurvives
    from plugins.diagnostics.loss_claims import LinearConvergence, OptimizerComparison, PLCondition
    from plugins.diagnostics.output_scale_claims import KernelMovesAsInverseScale, WeightsMoveAsInverseScale
    from plugins.diagnostics.rate_claims import StepsToTarget
    from plugins.diagnostics.smoothness_claims import SemiSmoothness
    from plugins.diagnostics.stability_claims import ForwardStability, ReluSignFlips, TrainingRadius
    from plugins.diagnostics.width_claims import WidthNeeded

    return [LinearConvergence, OptimizerComparison, StepsToTarget, PLCondition, TrainingRadius, ReluSignFlips,
            ForwardStability, ForwardNormsBounded, FreshRandomness, SeparabilitySurvives, ChainsDoNotBlowUp,
            BackwardChainsScale, SemiSmoothness, KernelLowerBound, KernelStaysPut, KernelNearItsLimit,
            LinearRegime, TrainingFollowsKernel, KernelOrdersTasks, KernelTaskSteps, WeightsMoveAsInverseScale,
            KernelMovesAsInverseScale, WidthNeeded]
