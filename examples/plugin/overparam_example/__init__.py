"""An example overparam plugin: the module the entry point names, with one registration hook
per component kind and one for its report claim. Everything it uses comes from ``overparam``'s
public API."""
from __future__ import annotations

from typing import Any

from overparam import Claim, Diagnostic, Generator, Initializer, Model, Optimizer, hookimpl

from overparam_example.diagnostic import WSpectralNorm
from overparam_example.generator import SineWaves
from overparam_example.initializer import GaussianGain
from overparam_example.model import Looped
from overparam_example.optimizer import HeavyBall
from overparam_example.two_layer import Signs, TwoLayer

__all__ = ["GaussianGain", "HeavyBall", "Looped", "Signs", "SineWaves", "TwoLayer", "WSpectralNorm"]


@hookimpl
def overparam_register_generators() -> list[type[Generator]]:
    """`sine_waves`."""
    return [SineWaves]


@hookimpl
def overparam_register_initializers() -> list[type[Initializer]]:
    """`gaussian_gain` (the Elman network's weights) and `signs` (the two-layer network's)."""
    return [GaussianGain, Signs]


@hookimpl
def overparam_register_optimizers() -> list[type[Optimizer]]:
    """`heavy_ball`."""
    return [HeavyBall]


@hookimpl
def overparam_register_diagnostics() -> list[type[Diagnostic]]:
    """`w_spectral_norm`."""
    return [WSpectralNorm]


@hookimpl
def overparam_register_models() -> list[type[Model]]:
    """`looped` and `two_layer`."""
    return [Looped, TwoLayer]


@hookimpl
def overparam_register_claims() -> list[type[Claim[Any]]]:
    """`w_norm_settles`, imported here: only a report needs it (and the report's plotting)."""
    from overparam_example.claim import WNormSettles

    return [WNormSettles]
