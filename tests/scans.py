"""Small real pipelines for the run and store tests, and helpers to run and read them."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import xarray as xr

ROOT = Path(__file__).resolve().parents[1]
BOOKKEEPING = ("wall_time", "finished_at")

TINY = """\
name: tiny
grid:
  m: [24, 40]
  seed: 2
stages:
  data: {plugin: separable, params: {n: 4, L: 4, d_x: 4, d: 2, delta: 0.2}}
  init: {plugin: paper, params: {m: "${grid.m}"}}
  train: {plugin: gd, params: {steps: 60, lr: 0.05/m}, needs: [data, init]}
  diagnose: {plugins: [loss, pl_ratio, weight_distance, forward_norms, fresh_randomness], schedule: {log: 8}, needs: [train]}
  summary: {plugins: [rate], needs: [train]}
store: tiny.zarr
"""

# eight jobs of about a second each on one core: long enough to interrupt, short enough for CI
SLOW = """\
name: slow
grid:
  m: [96, 128]
  seed: 4
stages:
  data: {plugin: separable, params: {n: 8, L: 8, d_x: 6, d: 3, delta: 0.2}}
  init: {plugin: paper, params: {m: "${grid.m}"}}
  train: {plugin: sgd, params: {steps: 2500, lr: 0.2/m}, needs: [data, init]}
  diagnose: {plugins: [loss, dprime_sparsity], schedule: {log: 12}, needs: [train]}
store: slow.zarr
"""

# a point that runs, one that raises (tests/data/flaky_plugin.py), one that diverges, another that runs
FAILING = """\
name: failing
plugins: [flaky_plugin]
grid:
  case: [fine, raises, diverges, fine_too]
  explode: [false, true, false, false]
  lr: [0.05, 0.05, 2.0, 0.02]
  zip: [[case, explode, lr]]
stages:
  data: {plugin: flaky, params: {explode: "${grid.explode}"}}
  init: {plugin: paper, params: {m: 32}}
  train: {plugin: gd, params: {steps: 200, lr: "${grid.lr}", train: WAB}, needs: [data, init]}
  diagnose: {plugins: [loss, weight_distance], schedule: {log: 10}, needs: [train]}
store: failing.zarr
"""


def write_pipeline(directory: Path, text: str, name: str = "pipeline.yaml") -> Path:
    path = directory / name
    path.write_text(text)
    return path


def overparam(*args: str, env: dict[str, str] | None = None, timeout: float = 240, cwd: Path = ROOT,
              **kwargs) -> subprocess.CompletedProcess:
    """Run the installed command line in a child process, as a user would (from ``cwd``)."""
    return subprocess.run([sys.executable, "-m", "framework.cli.commands", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, cwd=cwd, **kwargs)


def results(path: Path) -> xr.Dataset:
    """A store's contents, loaded, without the run's bookkeeping (times differ between runs)."""
    return xr.open_zarr(str(path)).load().drop_vars(BOOKKEEPING)


def done_points(path: Path) -> set[tuple[int, ...]]:
    """The grid indices a store marks done, read with xarray alone (the CF flags of ``status``)."""
    status = xr.open_zarr(str(path))["status"]
    done = status.attrs["flag_values"][status.attrs["flag_meanings"].split().index("done")]
    return {tuple(int(i) for i in index) for index in np.argwhere(status.values == done)}


def assert_same_results(a: xr.Dataset, b: xr.Dataset) -> None:
    """Every variable equal, bit for bit, NaN where NaN."""
    assert sorted(a.data_vars) == sorted(b.data_vars)
    for name in a.data_vars:
        left, right = a[name].values, b[name].values
        if left.dtype.kind == "f":
            assert np.array_equal(left, right, equal_nan=True), name
        else:
            assert (left == right).all(), name


def spread(items: list, count: int = 4) -> list:
    """``count`` of ``items``, first and last among them, evenly spaced: the members of an
    ensemble that a test also runs alone (each alone run costs as much as the ensemble's start)."""
    picks = sorted({round(i * (len(items) - 1) / max(1, count - 1)) for i in range(count)})
    return [items[i] for i in picks]


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


@contextmanager
def hand_started_cluster(folder: Path, workers: int = 2) -> Iterator[str]:
    """A real ``dask scheduler`` and ``dask worker --nworkers N --nthreads 1``, started as a
    person would on 127.0.0.1; yields the scheduler's address and stops both afterwards."""
    scheduler_file = folder / "scheduler.json"
    scheduler = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                  "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file)],
                                 cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = None
    try:
        wait_for(scheduler_file.exists, 60, "the scheduler file")
        time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nworkers",
                                   str(workers), "--nthreads", "1", "--no-dashboard"], cwd=folder,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        yield address
    finally:
        for process in (worker, scheduler):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
