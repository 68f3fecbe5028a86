"""The model contract: a network as a component, selected by a pipeline's ``model`` stage.

A model declares its weights up front, like xarray-simlab's processes declare their variables:
``dims`` maps each weight's name to the labels of its axes after the ensemble axis K (``m``, the
hidden width, along which ``framework.engine.padding`` appends zero neurons; ``d_x``, ``d``, the
data's sizes; any label of its own, sized by ``sizes()`` from the model's parameters), in the order initializers draw them.
``trained_by_default`` are the weights an optimizer's ``train: W`` moves, and ``provides`` what
its structure offers the diagnostics (``overparam.Network``; ``Diagnostic.needs`` names what a
diagnostic reads). ``statements`` restates the report's claims where the model's own theory
says otherwise than the Elman network's (the deep feed-forward network's companion paper,
say): claim name -> (reference, statement), which the report of a store of this model shows. The mathematics is ``overparam.Network``'s: ``forward`` is the one method a
model must write; the gradient and the tangent products default to torch autograd.

Every model takes ``output_scale`` (``ModelParams``): a model whose own schema does not derive
from ``ModelParams`` gets it added when its class is defined, so a model written before the
option existed takes it too.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import Field

from framework.contract.components import Component, Params
from framework.engine.network import Network

DEFAULT_MODEL = "elman"  # the model of a pipeline without a model stage (the paper's network, §2.1)


class ModelParams(Params):
    """What every model takes: the scale of its centered output (lazy or rich training).

    ``output_scale`` α trains α (h(W) − h(W0)) on the loss scaled by 1/α² (Chizat, Oyallon and
    Bach, "On lazy training in differentiable programming"; ``overparam.engine.OutputScaled``):
    lazy as α grows, rich as it falls. ``output_centered: false`` trains α h(W) uncentered, whose
    α = 1 is the model itself. Left out, the model is its own (the paper's network, Definition 2.3).
    """

    output_scale: float | None = Field(
        None, gt=0, description="α: train α·(h(W) − h(W0)) on the loss / α² (centered; lazy as α grows); "
                                "none: the model's own output")
    output_centered: bool = Field(
        True, description="with output_scale: center the output at W0 (true), or train α·h(W) itself (false: "
                          "at α = 1, the model's own)")


class Model(Component, Network):
    """A network: its declared weights, forward pass per layer, loss, gradient and tangent products."""

    kind: ClassVar[str] = "model"
    Params: ClassVar[type[Params]] = ModelParams
    dims: ClassVar[Mapping[str, tuple[str, ...]]]
    statements: ClassVar[Mapping[str, tuple[str, str]]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        """Give a model whose schema does not derive from ``ModelParams`` the options every model takes."""
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("Params")
        if own is None or issubclass(own, ModelParams):
            return
        cls.Params = (ModelParams if issubclass(ModelParams, own)  # the bare base: nothing of its own
                      else type(own.__name__, (own, ModelParams), {"__module__": own.__module__, "__doc__": own.__doc__}))
