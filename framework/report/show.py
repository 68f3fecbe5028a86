"""``overparam show STORE``: a one-screen summary of a run store, read with plain xarray.

It names the pipeline, lists the grid, counts the statuses, and tabulates the final value of
the key diagnostics by grid point — the median over the ``seed`` axis when there is one, so a
replicated scan stays one screen long.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

STATUS = ("pending", "done", "failed", "diverged")
REPLICA_AXIS = "seed"
MAX_ROWS = 40


def final(ds: xr.Dataset, name: str) -> xr.DataArray:
    """A variable at the last step each grid point logged a value (NaN where none)."""
    values = ds[name]
    if "step" not in values.dims:
        return values
    valid = values.notnull()
    position = xr.DataArray(np.arange(values.sizes["step"]), dims="step")
    last = (valid * position).max("step")
    return values.isel(step=last).where(valid.any("step"))


def summary_columns(ds: xr.Dataset) -> dict[str, xr.DataArray]:
    """The columns of the table: what a reader of the paper looks at first, where measured."""
    columns: dict[str, xr.DataArray] = {}
    if "loss" in ds:
        f0 = ds["loss"].isel(step=0)
        columns["f_T/f_0"] = final(ds, "loss") / f0
    for name, label in (("rate", "rate"), ("steps_to_target", "steps to target")):
        if name in ds:
            columns[label] = ds[name]
    if "pl_ratio" in ds:
        columns["min PL ratio"] = ds["pl_ratio"].min("step")
    for name, label in (("dprime_max", "max ||D'||_0"), ("weight_distance_spectral_sqrt_m", "sqrt(m)||W-W0||_2")):
        if name in ds:
            columns[label] = final(ds, name)
    return {label: column for label, column in columns.items() if set(column.dims) <= set(ds["status"].dims)}


def _format(value: float) -> str:
    if not np.isfinite(value):
        return "-"
    return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.2e}"


def render_store(path: str | Path) -> str:
    """The summary text of one store."""
    ds = xr.open_zarr(str(path)).load()
    grid_dims = list(ds["status"].dims)
    codes = ds["status"].values
    lines = [f"{ds.attrs.get('name', Path(path).name)}: {path}"]
    if ds.attrs.get("description"):
        lines.append(f"  {ds.attrs['description'].strip()}")
    lines.append(f"  started {ds.attrs.get('started_at', '?')}, finished {ds.attrs.get('finished_at') or 'not yet'}")
    for dim in grid_dims:
        lines.append(f"  {dim:<10} {ds.sizes[dim]:>4}  {', '.join(map(str, ds[dim].values.tolist()))}")
    counts = {name: int((codes == code).sum()) for code, name in enumerate(STATUS)}
    lines.append("  status: " + ", ".join(f"{counts[s]} {s}" for s in STATUS if counts[s]) + f" of {codes.size}")
    columns = summary_columns(ds)
    done = ds["status"] == STATUS.index("done")
    rows_over = [d for d in grid_dims if d != REPLICA_AXIS]
    table = {label: column.where(done) for label, column in columns.items()}
    header = "median over seed" if REPLICA_AXIS in grid_dims else "per grid point"
    if REPLICA_AXIS in grid_dims:
        table = {label: column.median(REPLICA_AXIS, skipna=True) for label, column in table.items()}
    stacked = xr.Dataset(table).stack(point=rows_over) if rows_over else xr.Dataset(table).expand_dims(point=[0])
    keys = stacked["point"].values.tolist() if rows_over else [()]
    lines.append("")
    lines.append(f"  final values ({header}, done points only):")
    names = [*rows_over, *columns]
    widths = [max(8, len(n)) for n in names]
    lines.append("  " + "  ".join(n.rjust(w) for n, w in zip(names, widths)))
    for row, key in enumerate(keys[:MAX_ROWS]):
        key = key if isinstance(key, tuple) else (key,)
        cells = [str(k) for k in key][: len(rows_over)]
        cells += [_format(float(stacked[label].values[row])) for label in columns]
        lines.append("  " + "  ".join(c.rjust(w) for c, w in zip(cells, widths)))
    if len(keys) > MAX_ROWS:
        lines.append(f"  ... {len(keys) - MAX_ROWS} more rows")
    not_done = ds["status"].values >= STATUS.index("failed")
    messages = sorted({str(m) for m in np.asarray(ds["error"].values)[not_done].ravel() if str(m)})
    if messages:
        lines.append("")
        lines.append("  failures and divergences:")
        lines.extend(f"    {m}" for m in messages[:10])
    return "\n".join(lines)
