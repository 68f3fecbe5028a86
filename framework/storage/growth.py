"""Scans that grow: a store whose pipeline gained grid values (more seeds, another width, a
new δ) is carried over to the larger grid, every point already done kept where it now lies.

Only the grid's values may differ: the same axes along the same dimensions, each old value
(or zip row) still present, every other key unchanged, and the same layout beyond the grid
dimensions (steps, stages, diagnostic dimensions). Anything else is refused, naming what differs.
The larger store is made beside the old one (the new template, then the old points copied into
it, variable by variable) and swapped in by two renames; a run killed between them leaves the old
store under ``.replaced``, which the next run puts back before anything else.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import zarr

from framework.configuration.grid import Grid
from framework.contract.store_layout import Layout
from framework.storage.schema import differing_keys

REPLACED_SUFFIX = ".replaced"  # an old store being swapped out for its grown copy


def restore_replaced(path: Path) -> None:
    """Put back a store whose swap for its grown copy was cut between the two renames."""
    replaced = path.with_name(path.name + REPLACED_SUFFIX)
    if replaced.exists():
        if path.exists():
            shutil.rmtree(replaced)
        else:
            replaced.rename(path)


def growth_maps(group: zarr.Group, stored_text: str, raw: dict, grid: Grid, layout: Layout) -> tuple[list[np.ndarray] | None, str]:
    """Where each old grid index lies in the new grid, one array per dimension, when the new
    pipeline only adds grid values; else ``(None, why not)``."""
    other = [key for key in differing_keys(stored_text, raw) if not _is_axis_values(key)]
    if other:
        return None, "keys besides grid values differ: " + ", ".join(other[:6])
    status = group["status"]
    dims = list(status.attrs.get("_ARRAY_DIMENSIONS", []))
    if dims != [dim.name for dim in grid.dimensions]:
        return None, f"the grid's dimensions are {dims} in the store and {[d.name for d in grid.dimensions]} here"
    maps = []
    for dim in grid.dimensions:
        try:
            old_rows = list(zip(*(group[axis][...].tolist() for axis in dim.axes)))
        except KeyError:
            return None, f"the store has no coordinate for every axis of dimension '{dim.name}' ({', '.join(dim.axes)})"
        position = {row: i for i, row in enumerate(dim.values)}
        missing = [row for row in old_rows if row not in position]
        if missing:
            shown = ", ".join("/".join(map(str, row)) for row in missing[:3])
            return None, f"grid values of '{dim.name}' in the store are missing here ({shown})"
        maps.append(np.asarray([position[row] for row in old_rows], dtype=np.int64))
    if "step" in group and group["step"][...].tolist() != list(layout.steps):
        return None, "the new grid values change the logged steps"
    for name, variable in layout.variables.items():
        expected = layout.shape(variable)
        if name not in group or tuple(group[name].shape[len(maps):]) != expected:
            return None, f"'{name}' has another shape beyond the grid (the new grid values change the steps or sizes)"
    return maps, ""


def _is_axis_values(key: str) -> bool:
    """``grid.m``: the values of one axis (a zip group's membership is ``grid.zip``)."""
    parts = key.split(".")
    return len(parts) == 2 and parts[0] == "grid" and parts[1] != "zip"


def copy_points(old: zarr.Group, new: zarr.Group, maps: list[np.ndarray], names: list[str]) -> None:
    """Every variable's values at the old grid points, written at their new places."""
    for name in names:
        values = old[name][...]
        new[name].oindex[tuple(maps) + (slice(None),) * (values.ndim - len(maps))] = values


def swap_in(path: Path, grown: Path) -> None:
    """Replace the store at ``path`` by its grown copy (two renames; see ``restore_replaced``)."""
    replaced = path.with_name(path.name + REPLACED_SUFFIX)
    path.rename(replaced)
    grown.rename(path)
    shutil.rmtree(replaced)
