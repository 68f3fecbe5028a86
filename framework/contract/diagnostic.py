"""The diagnostic contract: a component that measures a training state and declares its outputs.

Like xarray-simlab's processes, a diagnostic says up front what it produces: each output
variable's name, its own dimensions beyond the grid axes and ``step`` (``layer``, ...), a long
name and the paper's equation. The store is laid out from these declarations before the first
job runs (docs/architecture.md, "The store").
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Generic, Literal


from framework.contract.components import Component, ParamsT

if TYPE_CHECKING:
    from torch import Tensor

    from framework.engine.probe import Probe

When = Literal["init", "schedule", "end"]
WHEN_CHOICES: tuple[str, ...] = ("init", "schedule", "end")
DIMENSIONLESS = "1"  # CF's units of a dimensionless quantity


def units_attrs(units: str | None) -> dict[str, str]:
    """The ``units`` attribute a store variable gets: none for a dimensionless quantity (CF
    lets it be left off, and xarray's plots would print "[1]" after every label), else the
    CF units string."""
    return {} if not units or units == DIMENSIONLESS else {"units": units}


@dataclass(frozen=True)
class Output:
    """One output variable of a diagnostic.

    ``dims`` are the variable's own dimensions (not the grid axes, not ``step``); their sizes
    come from ``Diagnostic.dim_sizes``. ``long_name``, ``paper_ref`` and ``units`` become the
    store variable's attributes. ``units`` is a CF units string: ``"1"``, the default, for a
    dimensionless quantity (the paper's norms, ratios and counts are all dimensionless, its
    data having no physical units), ``"1/step"`` for a rate per training step, ``"s"`` for
    seconds; a dimensionless output's store variable has no ``units`` attribute (CF's way,
    ``units_attrs``). ``dtype`` is how the
    store keeps it: ``float64``, or ``int64`` for counts (kept on disk as integers, with -1
    where nothing was measured, declared as the variable's ``_FillValue``, so ``xr.open_zarr``
    reads those places as NaN).
    """

    long_name: str
    paper_ref: str
    dims: tuple[str, ...] = ()
    units: str = DIMENSIONLESS
    dtype: Literal["float64", "int64"] = "float64"


@dataclass(frozen=True)
class ProblemShape:
    """The sizes a diagnostic's own dimensions may depend on."""

    n: int
    L: int
    m: int
    d_x: int
    d: int
    layers: int  # the hidden layers the model reports (``Network.layer_count``: L for the Elman network)


class Diagnostic(Component, ABC, Generic[ParamsT]):
    """Measures a state of an ensemble of K networks; every output has a leading K axis.

    ``when`` says when it is measured: ``init`` (once, at step 0), ``schedule`` (at the logged
    steps) or ``end`` (once, after the last step). ``needs`` names what it reads from the model
    beyond the loss and the gradient of W (``overparam.Network.provides``: ``layers``,
    ``recurrent``, ``sequence``); validation refuses it on a model that does not provide them.
    ``optimizers`` names the optimizers whose trainings it can measure (``None``: any), for a
    diagnostic that follows one rule (``linearization_gap`` replays GD's); validation refuses
    it on a training by another. ``uses_every_step_loss`` asks for ``Probe.every_step_loss``,
    f at every step where training computes it (``rate``'s steps to target): the training then
    keeps the loss of each full-batch gradient's forward pass, which costs it nothing more.
    """

    kind: ClassVar[str] = "diagnostic"
    needs: ClassVar[frozenset[str]] = frozenset()
    uses_every_step_loss: ClassVar[bool] = False  # whether it reads Probe.every_step_loss
    optimizers: ClassVar[frozenset[str] | None] = None
    outputs: ClassVar[Mapping[str, Output]]
    when: ClassVar[When] = "schedule"

    def dim_sizes(self, params: ParamsT, shape: ProblemShape) -> dict[str, int]:
        """The size of each of this diagnostic's own dimensions; none by default."""
        return {}

    @abstractmethod
    def measure(self, params: ParamsT, probe: Probe) -> dict[str, Tensor]:
        """The outputs for the probed state: ``{name: tensor [K, *dims]}``, one per declared output."""
