"""The store contract (docs/architecture.md, "The store"): layout, commit mark, resume, lock, pipeline identity."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr
import zarr

from framework.execution.task import run_ensemble

from framework.planning.plan import plan_file
from framework.storage.store import STATUS_CODE, Store
from framework.storage.lock import StoreError, StoreLock
from framework.storage.check import check_store
from scans import TINY, done_points, write_pipeline


@pytest.fixture
def tiny(tmp_path):
    plan = plan_file(write_pipeline(tmp_path, TINY))
    return plan, plan.layout, tmp_path / "tiny.zarr"


def test_template_keeps_the_store_contract_before_and_after_results(tiny):
    plan, layout, path = tiny
    store = Store.prepare(path, layout, plan.pipeline)
    empty = check_store(path)
    assert empty.consistent and empty.counts["pending"] == len(plan.jobs), empty.text()
    for result in run_ensemble(list(plan.jobs[:2]), layout):
        store.write([result])
    half = check_store(path)
    assert half.consistent and half.counts["done"] == 2 and not half.complete, half.text()


def test_plain_xarray_opens_the_store_without_overparam(tiny):
    plan, layout, path = tiny
    store = Store.prepare(path, layout, plan.pipeline)
    store.write(run_ensemble([plan.jobs[3]], layout)[:1])
    script = ("import sys, xarray as xr\n"
              f"ds = xr.open_zarr({str(path)!r})\n"
              "assert not any(m.startswith(('framework', 'plugins')) for m in sys.modules)\n"
              "print(ds.sizes['m'], ds.sizes['seed'], ds.sizes['step'], int(ds.status[1, 1]), ds.loss.attrs['paper_ref'])")
    out = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-c", script], capture_output=True, text=True,
                         cwd=path.parent)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2", "2", str(len(layout.steps)), str(STATUS_CODE["done"]), "§2.2"]


def test_layout_labels_grid_steps_and_layers(tiny):
    plan, layout, path = tiny
    Store.prepare(path, layout, plan.pipeline)
    ds = xr.open_zarr(str(path))
    assert ds["m"].values.tolist() == [24, 40] and ds["seed"].values.tolist() == [0, 1]
    assert ds["step"].values.tolist() == list(plan.steps) and ds["step"].values[-1] == 60
    assert ds["layer"].values.tolist() == [1, 2, 3, 4]
    assert ds["h_norm_min"].dims == ("m", "seed", "step", "layer")
    assert ds["rate"].dims == ("m", "seed")
    assert ds.attrs["pipeline"] == (path.parent / "pipeline.yaml").read_text()
    assert set(json.loads(ds.attrs["versions"])) >= {"overparam", "torch", "dask", "xarray", "zarr"}
    assert (ds["status"].values == STATUS_CODE["pending"]).all()


def test_results_land_in_their_own_region(tiny):
    plan, layout, path = tiny
    store = Store.prepare(path, layout, plan.pipeline)
    job = plan.jobs[2]  # m=40, seed=0
    result = run_ensemble([job], layout)[0]
    store.write([result])
    ds = xr.open_zarr(str(path)).load()
    point = ds.sel(m=40, seed=0)
    assert np.array_equal(point["loss"].values, result.values["loss"])
    loss = ds["loss"].values.copy()
    loss[1, 0] = np.nan  # the written point; every other point is still the fill value
    assert np.isnan(loss).all()
    assert int((ds["status"] == STATUS_CODE["done"]).sum()) == 1


def test_a_point_without_its_status_is_not_done_and_is_rewritten(tiny):
    """status is the commit mark: values written without it (a write cut short) count for nothing."""
    plan, layout, path = tiny
    store = Store.prepare(path, layout, plan.pipeline)
    result = run_ensemble([plan.jobs[0]], layout)[0]
    store.group["loss"][result.index] = np.full(len(layout.steps), 123.0)
    assert done_points(store.path) == set()
    store.write([result])
    assert done_points(store.path) == {tuple(result.index)}
    assert np.array_equal(store.group["loss"][result.index], result.values["loss"])


def test_reopening_the_same_pipeline_resumes_and_a_different_one_is_refused(tmp_path, tiny):
    plan, layout, path = tiny
    store = Store.prepare(path, layout, plan.pipeline)
    store.write(run_ensemble([plan.jobs[1]], layout)[:1])
    commented = plan_file(write_pipeline(tmp_path, TINY.replace("name: tiny", "name: tiny\n# a comment")))
    again = Store.prepare(path, layout, commented.pipeline)
    assert done_points(again.path) == {tuple(plan.jobs[1].point.index)}
    other = plan_file(write_pipeline(tmp_path, TINY.replace("steps: 60", "steps: 61").replace("seed: 2", "seed: 3"),
                                     "other.yaml"))
    with pytest.raises(StoreError) as refused:
        Store.prepare(path, other.layout, other.pipeline)
    message = str(refused.value)
    assert "made from a different pipeline: grid.seed: 2 in the store's, 3 here; stages.train.params.steps: 60 " \
           "in the store's, 61 here;" in message
    assert "another store" in message and "--overwrite" in message
    replaced = Store.prepare(path, other.layout, other.pipeline, overwrite=True)
    assert done_points(replaced.path) == set()


def test_a_path_that_is_not_a_store_is_refused(tiny, tmp_path):
    plan, layout, _ = tiny
    not_a_store = tmp_path / "notes"
    not_a_store.mkdir()
    (not_a_store / "keep.txt").write_text("mine")
    with pytest.raises(StoreError, match="not an overparam store"):
        Store.prepare(not_a_store, layout, plan.pipeline)
    assert (not_a_store / "keep.txt").read_text() == "mine"


def test_a_second_lock_is_refused_and_a_dead_holders_lock_is_taken_over(tmp_path):
    path = tmp_path / "run.zarr"
    with StoreLock(path):
        with pytest.raises(StoreError, match=f"pid {os.getpid()}"):
            StoreLock(path).acquire()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = StoreLock(path)
    lock.path.write_text(json.dumps({"pid": dead.pid, "host": os.uname().nodename, "since": "earlier"}))
    with lock:
        assert json.loads(lock.path.read_text())["pid"] == os.getpid()
    assert not lock.path.exists()


def test_a_store_laid_out_with_other_variables_is_refused_naming_them(tmp_path, tiny):
    plan, layout, path = tiny
    Store.prepare(path, layout, plan.pipeline)
    more = plan_file(write_pipeline(tmp_path, TINY.replace("plugins: [loss,", "plugins: [loss, dprime_sparsity,"),
                                    "more.yaml"))
    # the same pipeline hash, but a layout with another variable: as after an upgrade that adds an output
    with pytest.raises(StoreError, match="it has no variable 'dprime_max'"):
        Store.prepare(path, more.layout, plan.pipeline)


def test_counts_are_integers_on_disk_and_unmeasured_places_read_as_nan(tmp_path):
    text = TINY.replace("plugins: [loss,", "plugins: [loss, dprime_sparsity,")
    plan = plan_file(write_pipeline(tmp_path, text))
    layout = plan.layout
    path = tmp_path / "tiny.zarr"
    store = Store.prepare(path, layout, plan.pipeline)
    result = run_ensemble([plan.jobs[0]], layout)[0]
    store.write([result])
    on_disk = zarr.open_group(str(path), mode="r")["dprime_max"]
    assert on_disk.dtype == np.int64
    ds = xr.open_zarr(str(path))
    read = ds["dprime_max"].values
    index = tuple(result.index)
    assert np.array_equal(read[index], result.values["dprime_max"])  # whole counts, as measured
    assert np.isnan(read[1, 1]).all()  # a pending point holds nothing
    assert int(ds["reached_step"].values[1, 1]) == -1 and int(ds["reached_step"].values[index]) == 60


def test_show_says_whether_the_last_run_is_running_now_or_was_interrupted(tiny):
    from framework.report.show import render_store
    from framework.storage.lock import StoreLock

    plan, layout, path = tiny
    Store.prepare(path, layout, plan.pipeline)  # a run that started, and wrote nothing more
    with StoreLock(path):
        assert f"running now (pid {os.getpid()} on " in render_store(path)
    assert "interrupted: the last run" in render_store(path)
