"""``overparam check STORE``: whether a run store is complete and keeps the store contract.

A store keeps the contract (docs/architecture.md, "The store") when its root attributes say
which pipeline made it and how (the pipeline text and its hash, the resolved configuration,
the versions, the start time); when it has one coordinate per grid dimension, an increasing
``step`` coordinate and a coordinate for every diagnostic dimension; when ``status`` holds
only the four states, as CF flags (``flag_values`` + ``flag_meanings``) or as words; when
every variable has a ``long_name`` (and a ``paper_ref``, the bookkeeping ``status``,
``error`` and ``wall_time`` aside) and its dimensions start with the grid's; and when no grid
point is half written. ``status`` is written last, as the commit mark, so a point may be
*written but not committed* (values present, status still pending: a write cut short, which a
resumed run recomputes), but a point marked done must hold everything a done point has.

Everything is read from the store itself, read-only, through plain zarr and xarray: the grid
axes and logged steps from ``resolved_config``, the training steps and diagnostics from the
stored pipeline text. Neither the pipeline file nor its plugins are needed, so any store can
be checked. Departures are collected, never raised, so one check lists them all; a path that
is not an overparam store at all raises ``NotAStore``.
"""
from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
import zarr

from framework.configuration.overrides import with_overrides
from framework.configuration.source import PipelineError, read_source
from framework.storage.point_check import PointChecks
from framework.contract.store_names import RUN_VARIABLES, STATUS, TRAINING_DIM, Status
from framework.storage.schema import pipeline_digest

MARKS = ("pipeline_hash", "pipeline", "resolved_config")  # any one makes a store overparam's
ROOT_ATTRS = {
    "pipeline": "the pipeline file's text",
    "pipeline_hash": "the hash of what the pipeline computes",
    "resolved_config": "the resolved configuration, as JSON",
    "versions": "the versions of overparam and its libraries, as JSON",
    "started_at": "the time the store was made, in ISO 8601",
}
TIMES = ("started_at", "finished_at", "last_run_started_at")
NO_PAPER_REF = ("status", "error", "wall_time")  # bookkeeping the paper says nothing about
EXPECTED = "expected an overparam store (the .zarr folder `overparam run` writes)"


class NotAStore(Exception):
    """The path is no overparam store at all: missing, not zarr, or another tool's zarr store."""


@dataclass(frozen=True)
class StoreCheck:
    """What a check found: every departure from the contract, and how many points are in each state."""

    path: Path
    departures: tuple[str, ...]
    counts: Mapping[str, int]
    finished_at: str = ""

    @property
    def consistent(self) -> bool:
        return not self.departures

    @property
    def points(self) -> int:
        return sum(self.counts.values())

    @property
    def complete(self) -> bool:
        """Consistent, and every grid point done."""
        return self.consistent and self.points > 0 and self.counts.get(Status.DONE, 0) == self.points

    def text(self) -> str:
        """The departures, one sentence each, then the counts and the verdict."""
        lines = [f"- {departure}" for departure in self.departures]
        counted = ", ".join(f"{self.counts.get(name, 0)} {name}" for name in STATUS)
        if self.counts.get("invalid"):
            counted += f", {self.counts['invalid']} with an invalid status"
        lines.append(f"{self.path}: {self.points} grid points: {counted}")
        if not self.consistent:
            count = len(self.departures)
            lines.append(f"{self.path}: {count} departure{'s' if count > 1 else ''} from the store contract "
                         "(listed above)")
        elif self.complete:
            lines.append(f"{self.path}: consistent and complete: every grid point is done")
        else:
            left = self.points - self.counts.get(Status.DONE, 0)
            state = "" if self.finished_at else "; its last run did not finish (interrupted, or still running)"
            lines.append(f"{self.path}: consistent, not complete: {left} grid points are not done (running "
                         f"`overparam run` on this store again computes them){state}")
        return "\n".join(lines)


def check_store(path: str | Path) -> StoreCheck:
    """Check one store against the store contract; raises ``NotAStore`` for a path that is not one."""
    path = Path(path)
    group = _open_group(path)
    with warnings.catch_warnings():  # a missing consolidation is reported below, not warned about
        warnings.simplefilter("ignore")
        try:
            ds = xr.open_zarr(str(path), decode_times=False, mask_and_scale=False)
        except Exception as exc:  # xarray raises many types for a store it cannot read
            return StoreCheck(path, (f"xarray cannot open it ({type(exc).__name__}: {exc})",), {})
        checker = _Checker(path, ds, group)
        checker.run()
    return checker.result()


def _open_group(path: Path) -> zarr.Group:
    """The store's root group, as written (not through its consolidated metadata); ``NotAStore``
    unless it is a zarr store with a mark of overparam's."""
    if not path.exists():
        raise NotAStore(f"{path}: no such file or directory; {EXPECTED}")
    if not path.is_dir():
        raise NotAStore(f"{path} is a file, not a zarr store folder; {EXPECTED}")
    try:
        group = zarr.open_group(str(path), mode="r", use_consolidated=False)
    except Exception as exc:  # zarr raises several types for "not a group"
        raise NotAStore(f"{path} is not a zarr store ({type(exc).__name__}); {EXPECTED}") from None
    status = group.get("status")
    meanings = str(status.attrs.get("flag_meanings", "")).split() if isinstance(status, zarr.Array) else []
    if not any(mark in group.attrs for mark in MARKS) and not set(STATUS) <= set(meanings):
        raise NotAStore(f"{path} is a zarr store but not an overparam store: it has none of the root attributes "
                        f"{', '.join(MARKS)} and no status variable of grid-point states; another tool wrote it")
    return group


@dataclass
class _Checker(PointChecks):
    """Collects the departures of one opened store, store-wide and per grid point."""

    path: Path
    ds: xr.Dataset
    group: zarr.Group
    departures: list[str] = field(default_factory=list)
    at_points: dict[str, list[tuple[int, ...]]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    pipeline: dict[str, Any] = field(default_factory=dict)
    grid_dims: tuple[str, ...] = ()

    def add(self, message: str) -> None:
        self.departures.append(message)

    def add_points(self, mask: np.ndarray, message: str) -> None:
        """The same departure at every grid point where ``mask`` holds."""
        for index in np.argwhere(mask):
            self.at_points.setdefault(message, []).append(tuple(int(i) for i in index))

    def run(self) -> None:
        self.check_consolidation()
        self.check_root_attributes()
        if "status" in self.ds.variables:  # its dimensions are the grid's
            self.grid_dims = tuple(self.ds["status"].dims)
        self.check_coordinates()
        self.check_variables()
        if all(name in self.ds.variables and self.ds[name].dims == self.run_dims(name) for name in RUN_VARIABLES):
            self.check_points(self.point_arrays())

    def result(self) -> StoreCheck:
        named = [self.describe_points(indices, message) for message, indices in self.at_points.items()]
        return StoreCheck(self.path, tuple(self.departures + named), dict(self.counts),
                          str(self.ds.attrs.get("finished_at", "")))

    # --- the store as a whole -------------------------------------------------------------

    def check_consolidation(self) -> None:
        """Readers open the consolidated metadata: it must exist and agree with the arrays'."""
        try:
            consolidated = zarr.open_group(str(self.path), mode="r", use_consolidated=True)
        except Exception:  # zarr raises ValueError or KeyError for a missing consolidation
            self.add("it has no consolidated metadata: plain xr.open_zarr warns, and reads every array's "
                     "metadata one by one")
            return
        if dict(consolidated.attrs) != dict(self.group.attrs):
            keys = sorted(k for k in set(consolidated.attrs) | set(self.group.attrs)
                          if consolidated.attrs.get(k) != self.group.attrs.get(k))
            self.add(f"its consolidated metadata is stale: root attributes {', '.join(keys)} differ from the "
                     "store's own, and readers see the stale ones (zarr.consolidate_metadata updates it)")
        written, listed = set(self.group.array_keys()), set(consolidated.array_keys())
        if written != listed:
            self.add(f"its consolidated metadata is stale: it lists the arrays {sorted(listed - written)} that are "
                     f"not in the store and lacks {sorted(written - listed)}")
        for name in sorted(written & listed):
            if dict(consolidated[name].attrs) != dict(self.group[name].attrs):
                self.add(f"its consolidated metadata is stale: the attributes of {name} differ from the array's own")

    def check_root_attributes(self) -> None:
        attrs = self.ds.attrs
        for name, what in ROOT_ATTRS.items():
            if not attrs.get(name):
                self.add(f"root attribute {name} is missing or empty (expected {what})")
        for name in TIMES:
            if attrs.get(name) and not _is_time(attrs[name]):
                self.add(f"root attribute {name} is {attrs[name]!r}, not a time in ISO 8601")
        versions = _json_mapping(attrs.get("versions"))
        if attrs.get("versions") and (versions is None or "overparam" not in versions):
            self.add("root attribute versions is not a JSON mapping of library names to versions naming overparam")
        if attrs.get("resolved_config"):
            self.config = self.read_config(attrs["resolved_config"])
        ran = "resolved_pipeline" if attrs.get("resolved_pipeline") else "pipeline"  # with its overrides applied
        if attrs.get(ran):
            try:
                self.pipeline = read_source(str(attrs[ran]), name=f"root attribute {ran}").data
            except PipelineError as error:
                self.add(f"root attribute {ran} is not a valid pipeline text: {str(error).splitlines()[0]}")
        if ran == "resolved_pipeline" and self.pipeline and attrs.get("pipeline"):
            self.check_overrides(str(attrs["pipeline"]), attrs.get("overrides"), self.pipeline)
        if self.pipeline and attrs.get("pipeline_hash"):
            digest = pipeline_digest(self.pipeline)
            if attrs["pipeline_hash"] != digest:
                self.add(f"root attribute pipeline_hash is {attrs['pipeline_hash']!r}, but the stored {ran} text "
                         f"hashes to {digest!r}: the attributes were edited, or come from different runs")

    def check_overrides(self, text: str, overrides: Any, resolved: Any) -> None:
        """The file's text with the recorded overrides applied gives the resolved pipeline."""
        listed = json.loads(str(overrides)) if overrides else []
        try:
            made = with_overrides(read_source(text, name="root attribute pipeline"), [str(o) for o in listed]).data
        except (PipelineError, json.JSONDecodeError, TypeError) as error:
            self.add(f"root attributes pipeline and overrides do not make a pipeline: {str(error).splitlines()[0]}")
            return
        if made != resolved:
            self.add("root attribute pipeline with its overrides does not give resolved_pipeline: the attributes were "
                     "edited, or come from different runs")

    def read_config(self, text: Any) -> dict[str, Any]:
        """``resolved_config`` as a mapping, with each departure from its expected shape reported."""
        config = _json_mapping(text)
        if config is None:
            self.add("root attribute resolved_config is not a JSON mapping")
            return {}
        grid, steps = config.get("grid"), config.get("steps")
        if not isinstance(grid, dict) or not all(isinstance(v, list) for v in grid.values()):
            self.add("resolved_config has no grid mapping each axis to its list of values")
            config.pop("grid", None)
        if not isinstance(steps, list) or not all(isinstance(s, int) for s in steps):
            self.add("resolved_config has no steps list of the logged steps")
            config.pop("steps", None)
        if not isinstance(config.get("stages"), dict):
            self.add("resolved_config has no stages mapping each stage to its kind and components")
            config.pop("stages", None)
        return config

    def check_coordinates(self) -> None:
        ds, config_grid = self.ds, self.config.get("grid", {})
        for dim in self.grid_dims:
            if dim not in ds.coords:
                self.add(f"grid dimension {dim} has no coordinate (the values of its axis)")
            elif len(set(ds[dim].values.tolist())) < ds.sizes[dim]:
                self.add(f"coordinate {dim} repeats values ({_listed(ds[dim].values.tolist())}): a grid point cannot "
                         "be selected by its value")
            if config_grid and dim not in config_grid:
                self.add(f"grid dimension {dim} is not an axis of resolved_config's grid ({', '.join(config_grid)})")
        for axis, listed in config_grid.items():
            if axis not in ds.coords:
                self.add(f"grid axis {axis} of resolved_config is not a coordinate of the store")
            elif len(ds[axis].dims) != 1 or ds[axis].dims[0] not in self.grid_dims:
                self.add(f"coordinate {axis} is not along one grid dimension (its dimensions: {ds[axis].dims})")
            elif [str(v) for v in ds[axis].values.tolist()] != [str(v) for v in listed]:
                self.add(f"coordinate {axis} holds {_listed(ds[axis].values.tolist())}, but resolved_config's grid "
                         f"lists {_listed(listed)}")
        self.check_steps()
        for dim in sorted(set(ds.dims) - set(self.grid_dims) - {"step"}):
            users = sorted(str(name) for name, v in ds.data_vars.items() if dim in v.dims)
            if dim not in ds.coords:
                self.add(f"dimension {dim} (of {', '.join(users)}) has no coordinate")
            elif len(set(ds[dim].values.tolist())) < ds.sizes[dim]:
                self.add(f"coordinate {dim} repeats values ({_listed(ds[dim].values.tolist())})")

    def check_steps(self) -> None:
        ds = self.ds
        if "step" not in ds.dims:
            self.add("it has no step dimension (the logged steps)")
            return
        if "step" not in ds.coords:
            self.add("dimension step has no coordinate (the logged steps)")
            return
        steps = ds["step"].values
        if steps.dtype.kind not in "iu":
            self.add(f"coordinate step holds {steps.dtype} values, not whole steps")
            return
        repeated = sorted({int(s) for s in steps[1:][np.diff(steps) == 0]})
        if repeated:
            self.add(f"coordinate step repeats steps {_listed(repeated)}")
        if (np.diff(steps) < 0).any():
            self.add(f"coordinate step is not in increasing order ({_listed(steps.tolist())})")
        if (steps < 0).any():
            self.add(f"coordinate step holds negative steps ({_listed(steps[steps < 0].tolist())})")
        if "steps" in self.config and steps.tolist() != self.config["steps"]:
            self.add(f"coordinate step holds {_listed(steps.tolist())}, but resolved_config's steps are "
                     f"{_listed(self.config['steps'])}")
        train_steps = self.train_steps()
        if train_steps is not None and steps.size and steps.max() > train_steps:
            self.add(f"coordinate step goes to step {int(steps.max())}, beyond the {train_steps} training steps")

    def check_variables(self) -> None:
        n = len(self.grid_dims)
        for name in RUN_VARIABLES:
            if name not in self.ds.variables:
                self.add(f"variable {name} is missing" + (": nothing says which grid points are done"
                                                          if name == "status" else ""))
            elif self.ds[name].dims != self.run_dims(name):
                self.add(f"variable {name} has dimensions {self.ds[name].dims}, not {self.run_dims(name)}")
        for name, variable in self.ds.data_vars.items():
            attrs = variable.attrs
            if not attrs.get("long_name"):
                self.add(f"variable {name} has no long_name attribute (what it holds, in words)")
            if name not in NO_PAPER_REF and not attrs.get("paper_ref"):
                self.add(f"variable {name} has no paper_ref attribute (where the paper defines it)")
            if n and variable.dims[:n] != self.grid_dims:
                self.add(f"variable {name} has dimensions {variable.dims}: they do not start with the grid "
                         f"dimensions {self.grid_dims}")

    # --- what the pipeline says each point has ---------------------------------------------

    def stages_of_kind(self, kind: str) -> list[str]:
        return [stage for stage, spec in self.config.get("stages", {}).items()
                if isinstance(spec, dict) and spec.get("kind") == kind]

    def run_dims(self, name: str) -> tuple[str, ...]:
        """A run variable's dimensions: the grid's, then ``train`` for a per-training one in a
        store of several optimizer stages (its ``train`` coordinate)."""
        several = RUN_VARIABLES[name].per_training and TRAINING_DIM in self.ds.coords
        return self.grid_dims + ((TRAINING_DIM,) if several else ())

    def train_steps(self) -> int | None:
        """The training steps of every point when the pipeline text gives one whole number for
        its one optimizer stage; None when it is left to the optimizer's default, varies with
        the grid, or there are several optimizer stages."""
        if len(self.stages_of_kind("optimizer")) > 1:
            return None
        for stage in self.stages_of_kind("optimizer"):
            raw = self.pipeline.get("stages", {}).get(stage)
            params = raw.get("params") if isinstance(raw, dict) else None
            steps = params.get("steps") if isinstance(params, dict) else None
            if isinstance(steps, int) and not isinstance(steps, bool):
                return steps
        return None

    def fixed_diagnostics(self) -> list[str] | None:
        """The diagnostics every grid point runs (their stages name their components literally,
        not through ``${grid.NAME}``); None when the pipeline text cannot say."""
        stages = self.stages_of_kind("diagnostic")
        raw_stages = self.pipeline.get("stages")
        if not stages or not isinstance(raw_stages, dict):
            return None
        fixed: list[str] = []
        for stage in stages:
            raw = raw_stages.get(stage)
            if not isinstance(raw, dict):
                return None
            listed = raw.get("plugins", [raw.get("plugin")])
            names = [next(iter(item), "") if isinstance(item, dict) else str(item)
                     for item in (listed if isinstance(listed, list) else [listed])]
            if not any("${" in name for name in names):
                fixed.extend(self.config["stages"][stage].get("components", []))
        return fixed

def _json_mapping(text: Any) -> dict[str, Any] | None:
    """A JSON text (or an already decoded mapping) as a dict; None when it is neither."""
    if isinstance(text, dict):
        return dict(text)
    try:
        value = json.loads(str(text))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _is_time(text: Any) -> bool:
    try:
        datetime.fromisoformat(str(text))
    except ValueError:
        return False
    return True


def _listed(values: Sequence[Any], limit: int = 12) -> str:
    shown = ", ".join(map(str, values[:limit]))
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")
