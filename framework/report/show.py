"""``overparam show STORE``: a one-screen summary of a run store, read with plain xarray.

It names the pipeline, lists the grid, counts the statuses, and tabulates the columns the
registered claims declare (``overparam.Column``: a variable and how its trajectory becomes one
number), by grid point — the median over the replica axis when there is one, so a replicated
scan stays one screen long. The claims come from the plugins of the run that made the store,
so a third-party diagnostic's claim brings its own column; the module names no variable itself.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import xarray as xr

from framework.contract.claim import Claim, Column
from framework.plugin_system.registry import Registry
from framework.contract.reductions import reduce
from framework.report.registered import load_claims, store_registry
from framework.contract.store_view import REPLICA_AXIS
from framework.contract.store_names import STAGE_DIM, STATUS, STATUS_CODE, Status
from framework.storage.lock import StoreLock

MAX_ROWS = 40


def declared_columns(claims: Iterable[Claim]) -> list[Column]:
    """The claims' columns in report order, the first of each header kept."""
    columns: dict[str, Column] = {}
    for claim in claims:
        for column in claim.columns:
            columns.setdefault(column.header, column)
    return list(columns.values())


def summary_columns(ds: xr.Dataset, columns: Iterable[Column]) -> dict[str, xr.DataArray]:
    """The columns of the table that the store holds, each one number per grid point; a
    variable measured by several stages (a ``stage`` dimension) gives one column per stage,
    headed ``HEADER [STAGE]``."""
    grid = set(ds["status"].dims)
    table: dict[str, xr.DataArray] = {}
    for column in columns:
        if column.variable in ds:
            values = reduce(ds[column.variable], column.reduce)
            if STAGE_DIM in values.dims:
                for stage in values[STAGE_DIM].values.tolist():
                    one = values.sel({STAGE_DIM: stage}, drop=True)
                    one = one.drop_vars([c for c in one.coords if c not in one.dims])
                    if set(one.dims) <= grid:
                        table[f"{column.header} [{stage}]"] = one
            elif set(values.dims) <= grid:
                table[column.header] = values
    return table


def _format(value: float) -> str:
    if not np.isfinite(value):
        return "-"
    return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.2e}"


def _run_state(path: Path, attrs: dict) -> str:
    """``finished T``, or whether the last run is running now or was interrupted."""
    if attrs.get("finished_at"):
        return f"finished {attrs['finished_at']}"
    holder = StoreLock(path).running_holder()
    if holder is not None:
        return f"running now (pid {holder.get('pid', '?')} on {holder.get('host', '?')} since {holder.get('since', '?')})"
    return f"interrupted: the last run (started {attrs.get('last_run_started_at', '?')}) did not finish; run it again to resume"


def render_store(path: str | Path, registry: Registry | None = None) -> str:
    """The summary text of one store; ``registry`` gives the claims and so the columns (by default
    the plugins of the run that made the store)."""
    ds = xr.open_zarr(str(path), chunks=None).load()  # read whole at once: no dask graph to build
    loaded = load_claims(registry if registry is not None else store_registry(ds.attrs))
    grid_dims = list(ds["status"].dims)
    codes = ds["status"].values
    lines = [f"{ds.attrs.get('name', Path(path).name)}: {path}"]
    if ds.attrs.get("description"):
        lines.append(f"  {ds.attrs['description'].strip()}")
    lines.append(f"  started {ds.attrs.get('started_at', '?')}, {_run_state(Path(path), ds.attrs)}")
    for dim in grid_dims:
        lines.append(f"  {dim:<10} {ds.sizes[dim]:>4}  {', '.join(map(str, ds[dim].values.tolist()))}")
    counts = {name: int((codes == code).sum()) for code, name in enumerate(STATUS)}
    lines.append("  status: " + ", ".join(f"{counts[s]} {s}" for s in STATUS if counts[s]) + f" of {codes.size}")
    columns = summary_columns(ds, declared_columns(loaded.claims))
    done = ds["status"] == STATUS_CODE[Status.DONE]
    rows_over = [d for d in grid_dims if d != REPLICA_AXIS]
    table = {label: column.where(done) for label, column in columns.items()}
    header = f"median over {REPLICA_AXIS}" if REPLICA_AXIS in grid_dims else "per grid point"
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
    not_done = ds["status"].values >= STATUS_CODE[Status.FAILED]
    messages = sorted({str(m) for m in np.asarray(ds["error"].values)[not_done].ravel() if str(m)})
    if messages:
        lines.append("")
        lines.append("  failures and divergences:")
        lines.extend(f"    {m}" for m in messages[:10])
    if loaded.problems:
        lines.append("")
        lines.append("  plugin problems (their claims' columns are left out):")
        lines.extend(f"    {what}: {why}" for what, why in loaded.problems)
    return "\n".join(lines)
