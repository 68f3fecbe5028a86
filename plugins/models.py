"""The built-in models: `elman`, the ReLU Elman network of §2.1 (the default of every
pipeline), `feedforward`, the companion paper's deep feed-forward network, and
`stacked_elman`, several Elman layers stacked.

The Elman network's mathematics is the engine's closed form (``overparam.engine.Elman``: the forward
pass of §2.1, the gradient of Fact 2.5, the tangent J v with the ReLU patterns fixed); the
others' are in ``plugins.feedforward`` and ``plugins.stacked_elman``. All register through the
same hook a third-party model uses.
"""
from __future__ import annotations

from typing import ClassVar

from overparam import Model, hookimpl
from overparam.engine import DEFAULT_MODEL, Elman
from plugins.feedforward import Feedforward
from plugins.stacked_elman import StackedElman


class ElmanModel(Elman, Model):
    """The ReLU Elman network of §2.1: h_l = relu(W h_{l-1} + A x_l), y_l = B h_l; W trained by default."""

    name: ClassVar[str] = DEFAULT_MODEL


@hookimpl
def overparam_register_models() -> list[type[Model]]:
    """`elman`, `feedforward` and `stacked_elman`."""
    return [ElmanModel, Feedforward, StackedElman]
