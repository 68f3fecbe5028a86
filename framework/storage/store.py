"""The zarr store of one pipeline run: its template, chunk writes of many grid points, resume
(the run's claim on it is ``framework.storage.lock``; its names and codes ``framework.storage.schema``).

Layout (docs/architecture.md, "The store"): one dimension per grid dimension (coordinate = the axis values; the other
axes of a zip group are coordinates along it), ``step`` for the logged steps, each
diagnostic's own dimensions; one variable per diagnostic output plus ``status`` (CF flags:
pending, done, failed, diverged), ``error``, ``wall_time``, ``reached_step``, ``learning_rate``,
``finished_at`` (``framework.contract.store_names.RUN_VARIABLES``). With several optimizer stages,
``reached_step`` and ``learning_rate`` have a ``train`` dimension labelled with the stages, and the
``stage`` dimension a ``trained_by`` coordinate naming the training each stage measured.
Zarr format 2 with consolidated metadata. Chunks hold many grid points (``framework.storage.chunking``):
the client is the only writer, so no chunk is ever written by two (docs/stack-notes.md: that loses data).

The template is written once, by xarray, before any job runs, into a folder beside the store
that is renamed to the store when complete (a run killed meanwhile leaves no half store);
unwritten chunks read back as the fill value. Results are then written by the client alone, a
chunk at a time (``framework.storage.write_buffer`` decides when): each variable's chunk is
read, updated at the points written and written back whole, and ``status`` is written last as
the commit mark, so a reader or a resumed run never takes a half-written point for done, and a
write cut short loses no point written before. ``xr.open_zarr(path)`` needs nothing from overparam.
"""
from __future__ import annotations

import json
import platform
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr
import zarr

from framework.contract.diagnostic import DIMENSIONLESS, units_attrs
from framework.configuration.grid import Grid
from framework.configuration.pipeline import Pipeline
from framework.storage.chunking import chunk_of, chunk_region, grid_chunks
from framework.storage.deferred_interrupt import ctrl_c_deferred
from framework.storage.growth import copy_points, growth_maps, restore_replaced, swap_in
from framework.contract.run_records import MemberResult
from framework.contract.store_layout import Layout
from framework.contract.store_names import RUN_VARIABLES, STATUS_CODE, TRAINING_DIM, Status
from framework.storage.lock import StoreError
from framework.configuration.source import pipeline_text
from framework.storage.schema import MISSING_COUNT, changed_keys, differing_keys, now, pipeline_digest

VERSIONED = ("overparam", "torch", "dask", "distributed", "xarray", "zarr", "numpy", "pluggy", "pydantic")
PARTIAL_SUFFIX = ".partial"  # a template being written, renamed to the store when complete
# long_name and units of the grid axes the shipped pipelines and docs use; any other axis is
# "grid axis NAME", dimensionless (no units attribute: units_attrs), text labels included
AXIS_ATTRS: dict[str, tuple[str, str]] = {
    "m": ("hidden width m", DIMENSIONLESS),
    "seed": ("replica", DIMENSIONLESS),
    "L": ("sequence length L", DIMENSIONLESS),
    "n": ("training sequences n", DIMENSIONLESS),
    "delta": ("separation δ (Assumption 2.1)", DIMENSIONLESS),
    "d_x": ("input dimension d_x", DIMENSIONLESS),
    "d": ("output dimension d", DIMENSIONLESS),
    "lr": ("learning rate η", DIMENSIONLESS),
    "steps": ("training steps", "step"),
    "optimizer": ("optimizer", DIMENSIONLESS),
}
ZARR_FORMAT = 2  # consolidated metadata is part of format 2: plain xr.open_zarr opens it without warnings


def pipeline_hash(pipeline: Pipeline) -> str:
    """The hash a store records of the pipeline that made it (``schema.pipeline_digest``)."""
    return pipeline_digest(pipeline.raw)


def layout_mismatch(group: zarr.Group, layout: Layout, grid: Grid) -> str:
    """How a store's arrays differ from the layout this run would write ("" when they agree):
    a variable missing, or of another shape (a diagnostic gained an output since, say)."""
    problems = []
    for name, variable in layout.variables.items():
        expected = grid.shape + layout.shape(variable)
        if name not in group:
            problems.append(f"it has no variable '{name}'")
        elif tuple(group[name].shape) != expected:
            problems.append(f"'{name}' has shape {tuple(group[name].shape)}, this run writes {expected}")
    return "; ".join(problems[:4]) + (f"; and {len(problems) - 4} more" if len(problems) > 4 else "")


def versions() -> dict[str, str]:
    """Versions of Python, overparam and the libraries a result depends on."""
    out = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_revision(directory: Path) -> str:
    """The git commit of the directory holding the pipeline file, when it is in a repository."""
    try:
        found = subprocess.run(["git", "-C", str(directory), "rev-parse", "HEAD"], capture_output=True, text=True,
                               timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return found.stdout.strip() if found.returncode == 0 else ""


def _coordinate(values: list[Any]) -> np.ndarray:
    """Axis values as an array: numbers stay numbers; text is stored as variable-length strings."""
    array = np.asarray(values)
    return array.astype(object) if array.dtype.kind in "USO" else array


def axis_attrs(axis: str) -> dict[str, str]:
    """A grid axis coordinate's ``long_name`` and ``units``: the paper's name of a common axis
    (``m``: "hidden width m"), else ``grid axis NAME`` (an axis is only a name in the pipeline
    file until a stage uses it through ``${grid.NAME}``)."""
    long_name, units = AXIS_ATTRS.get(axis, (f"grid axis {axis}", DIMENSIONLESS))
    return {"long_name": long_name, **units_attrs(units)}


def grid_coordinates(grid: Grid) -> dict[str, tuple[str, np.ndarray]]:
    """Each grid axis's coordinate: ``{axis: (dimension, values)}``."""
    return {axis: (dim.name, _coordinate(dim.coordinate(axis))) for dim in grid.dimensions for axis in dim.axes}


def missing_value(dtype: str) -> float | int:
    """What a variable of this dtype holds where nothing was measured: NaN for floats, -1 for
    counts (declared as their ``_FillValue``, so xarray reads it back as NaN)."""
    return np.nan if dtype == "float64" else MISSING_COUNT


def as_stored(values: np.ndarray, dtype: str) -> np.ndarray:
    """Measured values (floats, NaN where missing) in a variable's stored dtype."""
    if dtype == "float64":
        return values
    return np.where(np.isnan(values), MISSING_COUNT, np.rint(values)).astype(dtype)


TEXT_BYTES = 64  # what a point's message is assumed to take, for choosing chunks


def variable_chunks(grid_shape: tuple[int, ...], unit: tuple[int, ...], point_bytes: int) -> tuple[int, ...]:
    """A variable's chunks along the grid: about ``TARGET_CHUNK_BYTES`` of it, and along the one
    dimension both split, a multiple of the write unit's (the largest variable's chunks), so that
    a unit never straddles two of its chunks."""
    own = list(grid_chunks(grid_shape, point_bytes))
    for i, (size, mine, theirs) in enumerate(zip(grid_shape, own, unit)):
        if mine < size and theirs < size:
            own[i] = max(theirs, mine // theirs * theirs)
    return tuple(own)


def template(pipeline: Pipeline, layout: Layout, digest: str) -> xr.Dataset:
    """The empty dataset of a run: every variable NaN/pending, in chunks of many grid points.

    Each variable is chunked to about the same bytes, so a small one (``status``) has fewer,
    larger chunks; the largest variable's chunks are the unit the client writes
    (``Store.chunks``)."""
    grid_dims = tuple(dim.name for dim in pipeline.grid.dimensions)
    grid_shape = pipeline.grid.shape
    own_sizes = {"step": len(layout.steps), "stage": len(layout.stages), TRAINING_DIM: len(layout.trainings),
                 **layout.sizes}

    def point_bytes(dims: tuple[str, ...], dtype: Any) -> int:
        itemsize = TEXT_BYTES if dtype is object else np.dtype(dtype).itemsize
        return itemsize * int(np.prod([own_sizes[d] for d in dims]))

    variables = [(v.dims, v.dtype) for v in layout.variables.values()]
    variables += [(layout.training_dims if run.per_training else (), object if run.dtype == "object" else run.dtype)
                  for run in RUN_VARIABLES.values()]
    unit = grid_chunks(grid_shape, max(point_bytes(dims, dtype) for dims, dtype in variables))

    def variable(dims: tuple[str, ...], fill: Any, dtype: Any, attrs: Mapping[str, Any],
                 masked: bool = False, eager: bool = False) -> xr.Variable:
        shape = grid_shape + tuple(own_sizes[d] for d in dims)
        chunks = variable_chunks(grid_shape, unit, point_bytes(dims, dtype)) + tuple(own_sizes[d] for d in dims)
        # text and unmasked integers whose fill means something (-1: not run) are written now;
        # numbers read as NaN where unwritten are written lazily
        data = np.full(shape, fill, dtype=dtype) if eager or dtype is object else \
            da.full(shape, fill, dtype=dtype, chunks=chunks)
        encoding = {"chunks": chunks, **({"_FillValue": fill} if masked else {})}
        return xr.Variable(grid_dims + dims, data, attrs=dict(attrs), encoding=encoding)

    data_vars = {name: variable(v.dims, missing_value(v.dtype), v.dtype, v.attrs, masked=v.dtype != "float64")
                 for name, v in layout.variables.items()}
    for name, run in RUN_VARIABLES.items():
        dims = layout.training_dims if run.per_training else ()
        data_vars[name] = variable(dims, run.fill, object if run.dtype == "object" else run.dtype, run.attrs,
                                   eager=run.eager)
    coords: dict[str, Any] = {axis: xr.Variable((dim,), values, axis_attrs(axis)) for axis, (dim, values)
                              in grid_coordinates(pipeline.grid).items()}
    coords["step"] = xr.Variable(("step",), np.asarray(layout.steps, dtype=np.int64), {
        "long_name": "training step", "units": "step", "comment": "the union of every stage's schedule"})
    if layout.stages:
        coords["stage"] = xr.Variable(("stage",), np.asarray(layout.stages, dtype=object), {
            "long_name": "pipeline stage", "comment": "the stage that measured the value (a diagnostic listed in "
                                                      "several stages)"})
    if layout.trained_by:
        coords["trained_by"] = xr.Variable(("stage",), np.asarray([layout.trained_by[s] for s in layout.stages],
                                                                  dtype=object), {
            "long_name": "trained by", "comment": "the optimizer stage whose training the stage measured"})
    if layout.training_dims:
        coords[TRAINING_DIM] = xr.Variable((TRAINING_DIM,), np.asarray(layout.trainings, dtype=object), {
            "long_name": "optimizer stage", "comment": "the run variables of each training"})
    for dim, size in layout.sizes.items():
        coords[dim] = xr.Variable((dim,), np.arange(1, size + 1), {"long_name": f"{dim} (1-based)",
                                                                  "comment": "numbered as in the paper"})
    attrs = {
        "name": pipeline.name,
        "description": pipeline.description,
        "pipeline": pipeline.source.text,
        "pipeline_file": pipeline.source.name,
        "pipeline_directory": str(pipeline.source.directory.resolve()),
        "overrides": json.dumps([text for _, _, text in pipeline.source.overrides]),
        "resolved_pipeline": pipeline_text(pipeline.raw),
        "stage_steps": json.dumps(layout.stage_steps),
        "pipeline_hash": digest,
        "resolved_config": json.dumps({
            "seed": pipeline.seed, "device": pipeline.device, "dtype": pipeline.dtype,
            "grid": {axis: list(map(str, values)) for axis, (_, values) in grid_coordinates(pipeline.grid).items()},
            "stages": {stage: {"kind": kind or None, "components": list(names)}
                       for stage, (kind, names) in layout.stage_components.items()},
            "jobs": pipeline.grid.size, "steps": list(layout.steps)}, default=str),
        "versions": json.dumps(versions()),
        "git_revision": git_revision(pipeline.source.directory),
        "started_at": now(),
        "finished_at": "",
    }
    return xr.Dataset(data_vars, coords, attrs)


class Store:
    """An open run store: which points are done, and writing one point's results."""

    def __init__(self, path: Path, layout: Layout, grid: Grid):
        self.path = path
        self.layout = layout
        self.grid_ndim = len(grid.dimensions)
        self.grid_shape = grid.shape
        self.group = zarr.open_group(str(path), mode="r+")
        self._arrays: dict[str, zarr.Array] = {}
        self.grown_from = 0  # grid points of the store it was grown from (0: not grown by this run)

    def array(self, name: str) -> zarr.Array:
        """A variable's zarr array, opened once (each lookup through the group reads metadata)."""
        if name not in self._arrays:
            self._arrays[name] = self.group[name]
        return self._arrays[name]

    @classmethod
    def prepare(cls, path: Path, layout: Layout, pipeline: Pipeline, overwrite: bool = False) -> Store:
        """Create the store's template, or reopen a store of the same pipeline to resume it.

        A store whose pipeline differs only by grid values this one adds is grown to this grid,
        keeping every point done (``framework.storage.growth``). A store made from any other
        pipeline is refused unless ``overwrite``; so is a path that exists but is not a store.
        ``layout`` is the plan's (``Plan.layout``), ``pipeline`` the parsed pipeline it records.
        """
        digest = pipeline_hash(pipeline)
        restore_replaced(path)
        if path.exists() and not overwrite:
            try:
                existing = zarr.open_group(str(path), mode="r").attrs.get("pipeline_hash")
            except Exception as exc:  # zarr raises several types for "not a group"
                raise StoreError(f"{path} exists and is not an overparam store ({type(exc).__name__}); "
                                 "choose another store path, or pass --overwrite to replace it") from None
            group = zarr.open_group(str(path), mode="r")
            if existing != digest:
                stored = group.attrs.get("resolved_pipeline") or group.attrs.get("pipeline", "")
                maps, why_not = growth_maps(group, stored, dict(pipeline.raw), pipeline.grid, layout)
                if maps is not None:
                    return cls._grown(path, pipeline, layout, digest, maps)
                changed = changed_keys(stored, pipeline.raw)
                grown = f" (it cannot be grown to this grid: {why_not})" if all(
                    key.startswith("grid.") for key in differing_keys(stored, pipeline.raw)) else ""
                raise StoreError(f"store {path} was made from a different pipeline: {changed}{grown}; to keep both, "
                                 "give this run another store (store: in the file, or --store); to replace it, pass "
                                 "--overwrite")
            missing = layout_mismatch(group, layout, pipeline.grid)
            if missing:
                raise StoreError(f"store {path} was laid out by another version of overparam or its plugins: "
                                 f"{missing}; give this run another store, or pass --overwrite to replace it")
            return cls(path, layout, pipeline.grid)
        partial = cls._template(path, pipeline, layout, digest)
        if path.exists():
            shutil.rmtree(path)
        partial.rename(path)  # the store appears complete or not at all
        return cls(path, layout, pipeline.grid)

    @staticmethod
    def _template(path: Path, pipeline: Pipeline, layout: Layout, digest: str) -> Path:
        """The run's empty store, written beside ``path`` (returned: the caller renames it)."""
        partial = path.with_name(path.name + PARTIAL_SUFFIX)
        if partial.exists():  # left by a run killed while writing its template; we hold the lock
            shutil.rmtree(partial)
        template(pipeline, layout, digest).to_zarr(str(partial), mode="w", compute=False, consolidated=True,
                                               zarr_format=ZARR_FORMAT)
        return partial

    @classmethod
    def _grown(cls, path: Path, pipeline: Pipeline, layout: Layout, digest: str, maps: list[np.ndarray]) -> Store:
        """The store carried over to this pipeline's larger grid: its points copied to their new places."""
        old = zarr.open_group(str(path), mode="r")
        partial = cls._template(path, pipeline, layout, digest)
        new = zarr.open_group(str(partial), mode="r+")
        copy_points(old, new, maps, [*layout.variables, *RUN_VARIABLES])
        new.attrs.update(started_at=old.attrs.get("started_at", ""),
                                          grown_from=f"pipeline {old.attrs.get('pipeline_hash', '')} ({int(np.prod(old['status'].shape))} "
                                    f"grid points), grown at {now()}")
        zarr.consolidate_metadata(str(partial))
        swap_in(path, partial)
        store = cls(path, layout, pipeline.grid)
        store.grown_from = int(np.prod(old["status"].shape))
        return store

    def status(self) -> np.ndarray:
        """The status code of every grid point."""
        return np.asarray(self.array("status")[...])

    def done_mask(self) -> np.ndarray:
        """Whether each grid point is done, shaped like the grid."""
        return self.status() == STATUS_CODE[Status.DONE]

    @property
    def chunks(self) -> tuple[int, ...]:
        """The unit the client writes, along the grid dimensions: the smallest chunks any
        variable has (the largest variable's; every other variable's chunks hold whole units)."""
        sizes = [self.array(name).chunks[:self.grid_ndim] for name in (*self.layout.variables, *RUN_VARIABLES)]
        return tuple(int(min(column)) for column in zip(*sizes)) if self.grid_ndim else ()

    def write(self, results: Iterable[MemberResult]) -> None:
        """Write grid points' results a unit (``chunks``) at a time: per unit, each variable's
        block is read, updated at these points and written back (zarr rewrites the chunk that
        holds it whole), ``status`` last (the commit mark). A Ctrl-C meanwhile waits until the
        write is complete (``framework.storage.deferred_interrupt``)."""
        by_chunk: dict[tuple[int, ...], list[MemberResult]] = {}
        chunks = self.chunks
        for result in results:
            by_chunk.setdefault(chunk_of(result.index, chunks), []).append(result)
        with ctrl_c_deferred():
            for chunk, members in by_chunk.items():
                self._write_chunk(chunk_region(chunk, chunks, self.grid_shape), members)

    def _write_chunk(self, region: tuple[slice, ...], results: list[MemberResult]) -> None:
        """Each variable's block of the unit updated at the points at once (a point written twice
        takes its later values): a unit holds thousands of tiny points."""
        starts = np.array([s.start for s in region], dtype=np.int64)
        local = tuple((np.array([result.index for result in results], dtype=np.int64) - starts).T)
        for name, variable in self.layout.variables.items():
            shape = self.layout.shape(variable)
            nothing = np.full(shape, np.nan)
            measured = np.stack([nothing if result.values.get(name) is None else result.values[name]
                                 for result in results])  # each shaped by the layout (``ResultArrays``)
            block = np.asarray(self.array(name)[region])
            block[local] = as_stored(measured, variable.dtype)
            self.array(name)[region] = block
        for name, run in RUN_VARIABLES.items():  # status last: the commit mark
            block = np.asarray(self.array(name)[region])
            if name == "status":
                values: Any = np.array([STATUS_CODE[result.status] for result in results])
            elif run.per_training:
                values = np.array([self.per_training(getattr(result, name), run.fill) for result in results])
            else:
                values = np.array([getattr(result, name) for result in results], dtype=block.dtype)
            block[local] = values
            self.array(name)[region] = block

    def per_training(self, values: tuple, fill: Any) -> Any:
        """A per-training run variable's value at one point: one per optimizer stage (``fill``
        for a point that never trained), a scalar when there is one optimizer stage."""
        values = tuple(values) or (fill,) * len(self.layout.trainings)
        return np.asarray(values) if self.layout.training_dims else values[0]

    def set_attrs(self, **attrs: Any) -> None:
        """Update root attributes, and the consolidated metadata readers open."""
        self.group.attrs.update(attrs)
        zarr.consolidate_metadata(str(self.path))
