"""Kills: the client (with its workers) SIGKILLed at a random moment of a scan, then resumed;
the moment is drawn (seeded) as "after k points are done, plus a fraction of a job", k
uniform over the scan, so kills land from the template's writing to the last point;
a worker killed mid-scan. Every resumed store equals an uninterrupted run's, bit for bit
(but for wall_time and finished_at), no point done before the kill is computed again, and a
reader polling the store while it is written never sees a done point with values that are
not its final ones (``status`` is written last).
"""
from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np
import pytest
import zarr

from fault_runs import done_count, kill_group, load_store, record, start_run, worker_processes
from framework.storage.store import STATUS_CODE
from scans import wait_for
from scans import assert_same_results, overparam, results, write_pipeline

# eight jobs of a few tenths of a second each on one core
KILLABLE = """\
name: killable
grid:
  m: [96, 128]
  seed: 4
stages:
  data: {plugin: separable, params: {n: 8, L: 8, d_x: 6, d: 3, delta: 0.2}}
  init: {plugin: paper, params: {m: "${grid.m}"}}
  train: {plugin: sgd, params: {steps: 600, lr: 0.2/m}, needs: [data, init]}
  diagnose: {plugins: [loss, dprime_sparsity], schedule: {log: 12}, needs: [train]}
store: killable.zarr
"""
RUN = ("--workers", "2", "--threads", "1", "--max-ensemble", "1", "--quiet")
SEED = 9


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, float]:
    """The pipeline file, an uninterrupted run's store, and that run's wall time."""
    directory = tmp_path_factory.mktemp("kills")
    pipeline = write_pipeline(directory, KILLABLE)
    start = time.monotonic()
    out = overparam("run", str(pipeline), "--store", str(directory / "reference.zarr"), *RUN)
    assert out.returncode == 0, out.stderr
    return pipeline, directory / "reference.zarr", time.monotonic() - start


def torn_reads(store: Path, expected: np.ndarray) -> tuple[int, int]:
    """Read the store as a reader would (status first, then values): (done points seen, done
    points whose loss is not its final value)."""
    try:
        group = zarr.open_group(str(store), mode="r")
        done = np.asarray(group["status"][...]) == STATUS_CODE["done"]
        loss = np.asarray(group["loss"][...])
    except Exception:  # no store yet
        return 0, 0
    torn = [not np.array_equal(loss[i], expected[i], equal_nan=True) for i in zip(*np.nonzero(done))]
    return int(done.sum()), sum(torn)


def kill_and_resume(repetitions: int, reference: tuple[Path, Path, float], tmp_path: Path) -> None:
    pipeline, reference_store, duration = reference
    expected = np.asarray(zarr.open_group(str(reference_store), mode="r")["loss"][...])
    total = expected.shape[0] * expected.shape[1]
    rng = random.Random(SEED)
    tally = {"resumed_identical": 0, "done_before_kill": 0, "recomputed": 0, "reads": 0, "torn_reads": 0}
    for repetition in range(repetitions):
        store = tmp_path / f"killed{repetition}.zarr"
        after_points, extra = rng.randrange(total), rng.uniform(0.0, 0.5)
        run = start_run(str(pipeline), "--store", str(store), *RUN)
        deadline = None
        while run.poll() is None and (deadline is None or time.monotonic() < deadline):
            seen, torn = torn_reads(store, expected)
            tally["reads"] += seen
            tally["torn_reads"] += torn
            if deadline is None and (seen >= after_points and store.exists()):
                deadline = time.monotonic() + extra
            time.sleep(0.02)
        kill_group(run)
        before = load_store(store)
        done_before = (before["status"].values == STATUS_CODE["done"]) if before is not None else None
        resumed = overparam("run", str(pipeline), "--store", str(store), *RUN)
        assert resumed.returncode == 0, (repetition, after_points, resumed.stderr)
        assert_same_results(results(store), results(reference_store))
        if done_before is not None:
            after = load_store(store)
            kept = after["finished_at"].values[done_before] == before["finished_at"].values[done_before]
            tally["done_before_kill"] += int(done_before.sum())
            tally["recomputed"] += int((~kept).sum())
        tally["resumed_identical"] += 1
    assert tally["resumed_identical"] == repetitions
    assert tally["recomputed"] == 0 and tally["torn_reads"] == 0
    record("client_kills", repetitions=repetitions, points=total, uninterrupted_s=round(duration, 1), seed=SEED,
           **tally)


def test_client_killed_at_random_moments_resumes_to_the_uninterrupted_store(reference, tmp_path: Path):
    kill_and_resume(1, reference, tmp_path)  # 20 at full size (OVERPARAM_SLOW=1)


@pytest.mark.slow
@pytest.mark.timeout(900)  # twenty kills and resumes: 320 s on 2 cores, over the default 300 s per test
def test_client_killed_at_twenty_random_moments_resumes_to_the_uninterrupted_store(reference, tmp_path: Path):
    kill_and_resume(20, reference, tmp_path)


def kill_workers(repetitions: int, reference: tuple[Path, Path, float], tmp_path: Path) -> None:
    pipeline, reference_store, _ = reference
    completed = 0
    for repetition in range(repetitions):
        store = tmp_path / f"worker{repetition}.zarr"
        run = start_run(str(pipeline), "--store", str(store), *RUN)
        try:
            wait_for(lambda: done_count(store) >= 1 or run.poll() is not None, 120, "a first done grid point")
            assert run.poll() is None, run.communicate()
            workers = worker_processes(run.pid)
            assert workers, "no worker processes found"
            workers[repetition % len(workers)].kill()
            run.communicate(timeout=240)
        finally:
            if run.poll() is None:
                kill_group(run)
        assert run.returncode == 0, repetition
        assert_same_results(results(store), results(reference_store))
        completed += 1
    record("worker_kills", repetitions=repetitions, completed=completed)


def test_a_killed_worker_is_replaced_and_the_scan_completes(reference, tmp_path: Path):
    kill_workers(1, reference, tmp_path)


@pytest.mark.slow
def test_five_killed_workers_each_replaced_and_each_scan_completes(reference, tmp_path: Path):
    kill_workers(5, reference, tmp_path)
