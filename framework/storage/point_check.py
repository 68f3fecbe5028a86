"""The grid-point rules of ``overparam check``: a point's status says what it must hold.

``status`` is written last, as the commit mark, so a pending point holding anything was cut
before its status (written but not committed: a resumed run recomputes it), while a done
point must hold everything a done point has, and a failed or diverged one must say why.
``PointChecks`` is the part of the store checker (``framework.storage.check``) that applies them.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
import zarr

from framework.contract.store_names import STATUS, STATUS_CODE, TRAINING_DIM
from framework.contract.store_names import NOT_RUN, RUN_VARIABLES

PENDING, DONE, FAILED, DIVERGED = (STATUS_CODE[name] for name in STATUS)
INVALID = -1  # a status value that is none of the four states
MAX_NAMED = 5  # grid points named per departure; the rest are counted


@dataclass
class PointArrays:
    """The per-point values the point rules compare, each shaped like the grid."""

    state: np.ndarray
    error: np.ndarray
    reached: np.ndarray  # the earliest over the point's trainings (with several optimizer stages)
    unwritten_reached: tuple[int, ...]
    times: dict[str, np.ndarray]  # wall_time, finished_at, learning_rate
    has: dict[str, np.ndarray]  # per data variable: whether the point holds any value
    last_step: dict[str, np.ndarray]  # per scheduled variable: the last step with a value, -inf if none
    reached_last: np.ndarray | None = None  # the latest over the trainings; None: as ``reached``

    @property
    def latest(self) -> np.ndarray:
        return self.reached if self.reached_last is None else self.reached_last


class PointChecks:
    """The grid-point rules, for a checker that has opened the store (``ds``, ``group``, its
    ``grid_dims``), collects departures (``add``, ``add_points``, ``at_points``, ``counts``)
    and knows from the stored pipeline its training steps and the diagnostics every point runs."""

    path: Path
    ds: xr.Dataset
    group: zarr.Group
    grid_dims: tuple[str, ...]
    at_points: dict[str, list[tuple[int, ...]]]
    counts: dict[str, int]

    def add(self, message: str) -> None:
        raise NotImplementedError

    def add_points(self, mask: np.ndarray, message: str) -> None:
        raise NotImplementedError

    def train_steps(self) -> int | None:
        raise NotImplementedError

    def fixed_diagnostics(self) -> list[str] | None:
        raise NotImplementedError

    def point_arrays(self) -> PointArrays:
        ds, grid = self.ds, self.grid_dims
        state = self.states()
        error = as_text(np.asarray(ds["error"].values))
        by_training = ds["reached_step"]
        reached = np.asarray(by_training.min(TRAINING_DIM).values if TRAINING_DIM in by_training.dims
                             else by_training.values)
        reached_last = np.asarray(by_training.max(TRAINING_DIM).values) if TRAINING_DIM in by_training.dims else None
        fill = self.group["reached_step"].fill_value if "reached_step" in self.group else None
        unwritten = (NOT_RUN, int(fill) if fill is not None else 0)  # an unwritten chunk reads as the fill value
        times = {name: np.asarray(ds[name].min(TRAINING_DIM, skipna=False).values if TRAINING_DIM in ds[name].dims
                                  else ds[name].values, dtype=float)
                 for name in ("wall_time", "finished_at", "learning_rate")}
        has: dict[str, np.ndarray] = {}
        last_step: dict[str, np.ndarray] = {}
        steps = ds["step"].values.astype(float) if "step" in ds.coords and ds["step"].dtype.kind in "iu" else None
        for name, variable in ds.data_vars.items():
            if name in RUN_VARIABLES or variable.dims[:len(grid)] != grid:
                continue
            present = holds_value(variable)
            own = [d for d in present.dims if d not in grid and d != "step"]
            if own:
                present = present.any(own)
            if "step" in present.dims:
                position = xr.DataArray(np.arange(present.sizes["step"]), dims="step")
                last = np.asarray(position.where(present).max("step").values, dtype=float)
                has[name] = np.isfinite(last)
                if steps is not None:
                    last_step[name] = np.where(has[name], steps[np.nan_to_num(last).astype(int)], -np.inf)
            else:
                has[name] = np.asarray(present.values, dtype=bool)
        return PointArrays(state, error, reached, unwritten, times, has, last_step, reached_last)

    def states(self) -> np.ndarray:
        """Each point's state as an index into ``STATUS`` (``INVALID`` for any other value),
        every invalid value reported at its points."""
        status = self.ds["status"]
        values = np.asarray(status.values)
        state = np.full(values.shape, INVALID, dtype=int)
        if values.dtype.kind in "USOT":  # states as words
            words = as_text(values)
            for code, name in enumerate(STATUS):
                state[words == name] = code
            for word in sorted(set(words[state == INVALID].tolist())):
                self.add_points(words == word, f"status {word!r} is not one of {', '.join(STATUS)}")
            return state
        meaning = self.flag_meanings(status.attrs)
        for value, name in meaning.items():
            state[values == value] = STATUS.index(name)
        for value in sorted(set(values[state == INVALID].tolist())):
            self.add_points(values == value, f"status code {value} is not one of the flag_values "
                                             f"({', '.join(map(str, meaning))})")
        return state

    def flag_meanings(self, attrs: Mapping[str, Any]) -> dict[int, str]:
        """``status``'s integer codes and the state each means, from its CF flags; the codes in
        the order of ``STATUS`` where the flags are missing or wrong (reported)."""
        default = dict(enumerate(STATUS))
        if "flag_values" not in attrs or "flag_meanings" not in attrs:
            self.add("status holds integer codes but lacks flag_values and flag_meanings (CF flags), so a reader "
                     "cannot tell which code means which state")
            return default
        values = list(np.atleast_1d(attrs["flag_values"]).tolist())
        meanings = str(attrs["flag_meanings"]).split()
        if len(values) != len(meanings) or sorted(meanings) != sorted(STATUS) or len(set(values)) != len(values):
            self.add(f"status's CF flags do not name the four states once each: flag_values {values}, flag_meanings "
                     f"{attrs['flag_meanings']!r} (expected {' '.join(STATUS)})")
            return default
        return dict(zip(values, meanings))

    def check_points(self, p: PointArrays) -> None:
        self.counts = {name: int((p.state == code).sum()) for code, name in enumerate(STATUS)}
        if (p.state == INVALID).any():
            self.counts["invalid"] = int((p.state == INVALID).sum())
        pending, done = p.state == PENDING, p.state == DONE
        failed, diverged = p.state == FAILED, p.state == DIVERGED
        has_error = p.error != ""
        self.check_pending(pending, p, has_error)
        self.check_done(done, p, has_error)
        self.add_points(failed & ~has_error, "failed, but its error is empty: nothing says why")
        self.add_points(diverged & ~has_error, "diverged, but its error is empty: nothing says where")
        for value in sorted(set(p.reached[diverged & (p.reached < 0)].tolist())):
            self.add_points(diverged & (p.reached == value), f"diverged, but its reached_step is {value}: the step "
                                                             "it diverged at is missing")
        self.check_values_after_reached(done | diverged, p)

    def check_pending(self, pending: np.ndarray, p: PointArrays, has_error: np.ndarray) -> None:
        """A pending point holds nothing: anything there is a write cut before its status."""
        written = {"error": has_error, "reached_step": ~np.isin(p.reached, p.unwritten_reached),
                   **{name: np.isfinite(values) for name, values in p.times.items()}, **p.has}
        cut = pending & np.logical_or.reduce(list(written.values()))
        for index in np.argwhere(cut):
            index = tuple(int(i) for i in index)
            names = [name for name, mask in written.items() if mask[index]]
            self.at_points.setdefault(
                f"written but not committed: it holds {some(names)} while its status is still pending, so its "
                "write was cut before the status (the commit mark); a resumed run recomputes it", []).append(index)

    def check_done(self, done: np.ndarray, p: PointArrays, has_error: np.ndarray) -> None:
        """A done point holds everything: no error, all its steps, its times, its diagnostics' values."""
        self.add_points(done & has_error, "done, but its error holds a message")
        expected = self.train_steps()
        wrong = done & ((p.reached != expected) if expected is not None else (p.reached < 0))
        for value in sorted(set(p.reached[wrong].tolist())):
            should = f"not the {expected} training steps" if expected is not None else "so it never ran"
            self.add_points(wrong & (p.reached == value), f"done, but its reached_step is {value}, {should}")
        for name, values in p.times.items():
            self.add_points(done & ~np.isfinite(values), f"done, but its {name} is not a finite number")
        diagnostics = self.fixed_diagnostics()
        scheduled = [name for name in p.last_step]
        if diagnostics is None or not any(self.ds[name].attrs.get("diagnostic") for name in p.has):
            if scheduled:
                none = done & ~np.logical_or.reduce([p.has[name] for name in scheduled])
                self.add_points(none, "done, but it holds no logged value of any diagnostic")
            return
        for diagnostic in diagnostics:
            names = [name for name in scheduled if self.ds[name].attrs.get("diagnostic") == diagnostic]
            if names:
                none = done & ~np.logical_or.reduce([p.has[name] for name in names])
                self.add_points(none, f"done, but it holds no value of diagnostic {diagnostic} ({some(names)}), "
                                      "which every grid point runs")

    def check_values_after_reached(self, ran: np.ndarray, p: PointArrays) -> None:
        for name, last in p.last_step.items():
            after = ran & (last > p.latest)
            self.add_points(after, f"has values of {name} logged after its reached_step")

    def point_label(self, index: tuple[int, ...]) -> str:
        """``m=24, seed=1``: a grid point named by the coordinates along each grid dimension."""
        parts = []
        for dim, i in zip(self.grid_dims, index):
            names = [dim] if dim in self.ds.coords else []
            names += [str(c) for c, v in self.ds.coords.items() if v.dims == (dim,) and c != dim]
            parts += [f"{c}={self.ds[c].values.tolist()[i]}" for c in names] or [f"{dim}[{i}]"]
        return ", ".join(parts)

    def describe_points(self, indices: Sequence[tuple[int, ...]], message: str) -> str:
        labels = "; ".join(self.point_label(index) for index in indices[:MAX_NAMED])
        more = f" (and {len(indices) - MAX_NAMED} more)" if len(indices) > MAX_NAMED else ""
        noun = "grid point" if len(indices) == 1 else f"{len(indices)} grid points"
        return f"{noun} {labels}{more}: {message}"


def holds_value(variable: xr.DataArray) -> xr.DataArray:
    """Where a variable holds a value: not NaN, and not its ``_FillValue`` (the -1 of counts),
    which is what an unwritten chunk reads as."""
    present = variable.notnull()
    fill = variable.attrs.get("_FillValue", variable.encoding.get("_FillValue"))
    if fill is not None and not (isinstance(fill, float) and np.isnan(fill)):
        present = present & (variable != fill)
    return present


def as_text(values: np.ndarray) -> np.ndarray:
    """Text values of any numpy string dtype (fixed, variable, object, bytes) as Python strings."""
    texts = [v.decode(errors="replace") if isinstance(v, bytes) else "" if v is None else str(v)
             for v in values.ravel().tolist()]
    return np.array(texts, dtype=object).reshape(values.shape)


def some(names: Sequence[str], limit: int = 4) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
