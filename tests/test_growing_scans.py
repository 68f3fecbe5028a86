"""Scans that grow (docs/architecture.md, "The store"): a pipeline whose grid gained values runs
on its old store, keeps every point done and runs only the new ones; the grown store equals
one made from scratch with the larger grid; any other change is refused, naming the keys."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from distributed import Client
import xarray as xr

from framework.execution.cluster import ClusterOptions
from framework.execution.orchestrator import RunOptions, RunSummary, run_plan
from framework.planning.plan import plan_file
from framework.storage.growth import REPLACED_SUFFIX

from framework.storage.lock import StoreError
from framework.storage.store import STATUS_CODE, Store
from scans import assert_same_results, done_points, results, write_pipeline

SMALL = """\
name: growing
grid:
  m: [16, 32]
  seed: 2
stages:
  data: {plugin: separable, params: {n: 4, L: 3, d_x: 3, d: 2, delta: 0.2}}
  init: {plugin: paper, params: {m: "${grid.m}"}}
  train: {plugin: gd, params: {steps: 12, lr: 0.05/m}, needs: [data, init]}
  diagnose: {plugins: [loss, forward_norms], schedule: {log: 4}, needs: [train]}
store: run.zarr
"""
LARGER = SMALL.replace("m: [16, 32]", "m: [16, 24, 32]").replace("seed: 2", "seed: 3")


def run(folder: Path, text: str, store: Path, client: Client) -> RunSummary:
    plan = plan_file(write_pipeline(folder, text))
    summary = run_plan(plan, RunOptions(cluster=ClusterOptions(client=client), store=store, progress="quiet"))
    assert summary.ok, summary.text()
    return summary


def test_a_grid_that_gains_widths_and_seeds_keeps_the_done_points_and_runs_only_the_new_ones(
        tmp_path: Path, dask_client: Client):
    store = tmp_path / "run.zarr"
    run(tmp_path, SMALL, store, dask_client)
    before = xr.open_zarr(str(store)).load()
    grown = run(tmp_path, LARGER, store, dask_client)
    assert (grown.skipped, grown.counts["done"], grown.total) == (4, 5, 9)
    after = xr.open_zarr(str(store)).load()
    kept = after.sel(m=[16, 32], seed=[0, 1])
    # the old points were not run again: their finishing times are those of the first run
    assert np.array_equal(kept["finished_at"].values, before["finished_at"].values)
    assert_same_results(kept.drop_vars(["wall_time", "finished_at"]), before.drop_vars(["wall_time", "finished_at"]))
    assert (after["status"].values == STATUS_CODE["done"]).all()
    assert "grown at" in after.attrs["grown_from"]
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    run(fresh, LARGER, fresh / "run.zarr", dask_client)
    assert_same_results(results(store), results(fresh / "run.zarr"))


def test_a_zip_group_that_gains_a_row_grows(tmp_path: Path, dask_client: Client):
    zipped = SMALL.replace("  m: [16, 32]\n", "  m: [16, 32]\n  lr: [0.003, 0.001]\n  zip: [[m, lr]]\n").replace(
        "lr: 0.05/m", 'lr: "${grid.lr}"')
    store = tmp_path / "run.zarr"
    run(tmp_path, zipped, store, dask_client)
    more = zipped.replace("m: [16, 32]", "m: [16, 32, 48]").replace("lr: [0.003, 0.001]", "lr: [0.003, 0.001, 0.0005]")
    grown = run(tmp_path, more, store, dask_client)
    assert (grown.skipped, grown.counts["done"]) == (4, 2)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    run(fresh, more, fresh / "run.zarr", dask_client)
    assert_same_results(results(store), results(fresh / "run.zarr"))


@pytest.mark.parametrize("change, named", [
    (lambda t: t.replace("seed: 2", "seed: 3").replace("steps: 12", "steps: 13"), "stages.train.params.steps"),
    (lambda t: t.replace("m: [16, 32]", "m: [16, 64]"), "grid values of 'm' in the store are missing here (32)"),
    (lambda t: t.replace("m: [16, 32]", "m: [16, 32]\n  L: [3]").replace("L: 3,", 'L: "${grid.L}",'),
     "grid.L: only in this file"),
])
def test_any_other_change_is_refused_naming_what_differs(tmp_path: Path, change, named: str):
    store = tmp_path / "run.zarr"
    plan = plan_file(write_pipeline(tmp_path, SMALL))
    Store.prepare(store, plan.layout, plan.pipeline)
    other = plan_file(write_pipeline(tmp_path, change(SMALL), "other.yaml"))
    with pytest.raises(StoreError) as refused:
        Store.prepare(store, other.layout, other.pipeline)
    assert named in str(refused.value) and "--overwrite" in str(refused.value)


def test_a_swap_cut_between_its_renames_puts_the_old_store_back(tmp_path: Path, dask_client: Client):
    store = tmp_path / "run.zarr"
    run(tmp_path, SMALL, store, dask_client)
    store.rename(tmp_path / ("run.zarr" + REPLACED_SUFFIX))  # the first rename happened, the second not
    plan = plan_file(write_pipeline(tmp_path, SMALL))
    reopened = Store.prepare(store, plan.layout, plan.pipeline)
    assert len(done_points(reopened.path)) == 4
    assert not (tmp_path / ("run.zarr" + REPLACED_SUFFIX)).exists()
