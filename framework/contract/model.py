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
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from framework.contract.components import Component
from framework.engine.network import Network

DEFAULT_MODEL = "elman"  # the model of a pipeline without a model stage (the paper's network, §2.1)


class Model(Component, Network):
    """A network: its declared weights, forward pass per layer, loss, gradient and tangent products."""

    kind: ClassVar[str] = "model"
    dims: ClassVar[Mapping[str, tuple[str, ...]]]
    statements: ClassVar[Mapping[str, tuple[str, str]]] = {}
