"""A run store as the report reads it: done points only, its axes sorted by role.

The report must never draw a conclusion from a point that did not finish: a failed job has no
values, a diverged one has a trajectory cut short by NaN or inf, a pending one has nothing yet.
``StoreView`` opens the store read-only, loads it, sets every measurement of a point that is not
``done`` to NaN, and keeps the list of the points it left out with their status and message so
the report can say what it left out and why. It also sorts the grid axes: the replica axis
(``seed``, aggregated as a median with a band), the width axis ``m``, numeric axes (scanned
as scaling laws), and categorical ones (``optimizer``, ...: compared side by side).
"""
from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from framework.contract.reductions import final
from framework.contract.store_names import STAGE_DIM, STATUS, STATUS_CODE, TRAINING_DIM, Status

REPLICA_AXIS = "seed"  # the one definition of the replica axis, for the report and ``overparam show``
WIDTH_AXIS = "m"
DEPTH_AXIS = "L"
DIAGNOSTIC_DIMS = ("step", "layer", "length")


@dataclass(frozen=True)
class LeftOut:
    """A grid point the report did not use, and why."""

    point: str
    status: str
    reason: str


def stage_trainings(ds: xr.Dataset) -> dict[str, str]:
    """Each diagnostic stage of a store of several trainings with the optimizer stage whose
    training it measured: the ``trained_by`` coordinate along ``stage`` (diagnostics listed in
    several stages), then the ``stage`` and ``trained_by`` attributes of the other variables."""
    pairs = dict(zip(ds[STAGE_DIM].values.tolist(), ds["trained_by"].values.tolist())) \
        if "trained_by" in ds.coords else {}
    for variable in ds.data_vars.values():
        if "stage" in variable.attrs and "trained_by" in variable.attrs:
            pairs.setdefault(variable.attrs["stage"], variable.attrs["trained_by"])
    return pairs


class StoreView:
    """A loaded store with non-done points masked, and the roles of its grid axes."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        raw = xr.open_zarr(str(self.path), chunks=None).load()  # read-only, whole at once: no dask graph
        self.grid_dims: list[str] = list(raw["status"].dims)
        self.status = raw["status"]
        done = raw["status"] == STATUS_CODE[Status.DONE]
        self.done_count = int(done.sum())
        self.total = int(raw["status"].size)
        masked = {name: raw[name].where(done) for name, values in raw.data_vars.items()
                  if values.dtype.kind == "f" and set(self.grid_dims) <= set(values.dims)}
        self.ds = raw.assign(masked)
        self.left_out = self._left_out(raw)

    def trainings(self) -> list[tuple[str, str]]:
        """(diagnostic stage, optimizer stage) of a store of several trainings, in stage order
        (none for one training: its variables need no selection)."""
        return list(stage_trainings(self.ds).items()) if TRAINING_DIM in self.ds.dims else []

    def of_stage(self, stage: str, training: str) -> StoreView:
        """The view of one diagnostic stage of a several-training store: what it measured, as a
        store of that training alone would hold it (``stage`` and ``train`` selected, other
        stages' variables left out), so every claim reads it unchanged."""
        kept = {}
        for name, variable in self.ds.data_vars.items():
            if STAGE_DIM in variable.dims:
                if stage not in self.ds[STAGE_DIM].values.tolist():
                    continue
                variable = variable.sel({STAGE_DIM: stage}, drop=True)
            elif variable.attrs.get("stage", stage) != stage:
                continue
            if TRAINING_DIM in variable.dims:
                variable = variable.sel({TRAINING_DIM: training}, drop=True)
            kept[name] = variable.drop_vars([c for c in ("trained_by",) if c in variable.coords])
        view = copy.copy(self)
        view.ds = xr.Dataset(kept, attrs=self.ds.attrs)
        return view

    def _left_out(self, raw: xr.Dataset) -> list[LeftOut]:
        codes = raw["status"].values
        errors = raw["error"].values if "error" in raw else np.full(codes.shape, "", dtype=object)
        left: list[LeftOut] = []
        for index in zip(*np.nonzero(codes != STATUS_CODE[Status.DONE])):
            selection = {dim: raw[dim].values[i] for dim, i in zip(self.grid_dims, index)}
            status = STATUS[int(codes[index])]
            reason = str(errors[index]) or ("not run yet" if status == "pending" else "no message recorded")
            left.append(LeftOut(self.label(selection), status, reason))
        return left

    @property
    def replica(self) -> str | None:
        return REPLICA_AXIS if REPLICA_AXIS in self.grid_dims else None

    @property
    def scanned(self) -> list[str]:
        """Grid axes other than the replicas, in grid order."""
        return [dim for dim in self.grid_dims if dim != REPLICA_AXIS]

    def numeric(self, dim: str) -> bool:
        return self.ds[dim].dtype.kind in "iuf"

    @property
    def numeric_axes(self) -> list[str]:
        """Scanned axes with numbers for values and at least two of them: candidates for a scaling law."""
        return [dim for dim in self.scanned if self.numeric(dim) and self.ds.sizes[dim] >= 2]

    def has(self, *names: str) -> bool:
        """Whether every named variable is in the store and holds at least one finite value."""
        return all(name in self.ds and bool(np.isfinite(self.ds[name].values).any()) for name in names)

    def zipped(self, dim: str) -> list[str]:
        """Coordinates zipped along a grid axis (a pipeline's zip, docs/pipelines.md): shown beside its values."""
        return [name for name, coord in self.ds.coords.items() if coord.dims == (dim,) and name != dim]

    def label(self, selection: dict[str, object]) -> str:
        """``m=64, optimizer=sgd (c=0.2)``: a point or series named by its axis values."""
        parts = []
        for dim, value in selection.items():
            text = f"{dim}={_value(value)}"
            extra = [f"{name}={_value(self.ds[name].sel({dim: value}).item())}" for name in self.zipped(dim)]
            parts.append(text + (f" ({', '.join(extra)})" if extra else ""))
        return ", ".join(parts)

    def combinations(self, dims: list[str]) -> Iterator[dict[str, object]]:
        """Every selection of one value per named axis, in grid order (one empty selection for none)."""
        for values in itertools.product(*(self.ds[dim].values.tolist() for dim in dims)):
            yield dict(zip(dims, values))

    def replicas(self, values: xr.DataArray, x_dim: str) -> np.ndarray:
        """``values`` (dims: x_dim and, if present, the replica axis) as ``[n_x, n_replicas]``."""
        if self.replica and self.replica in values.dims:
            return values.transpose(x_dim, self.replica).values
        return values.transpose(x_dim).values[:, None]

    def final(self, name: str) -> xr.DataArray:
        """A variable's last logged value per grid point (``reductions.final``), done points only."""
        return final(self.ds, name)

    def done_at(self, selection: dict[str, object]) -> int:
        return int((self.status.sel(selection) == STATUS_CODE[Status.DONE]).sum())


def _value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
