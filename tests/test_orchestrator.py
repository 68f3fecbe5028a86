"""Running scans on real Dask clusters (docs/architecture.md, "Execution"), with real processes killed along the way."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psutil
import pytest
import xarray as xr
import zarr

from framework.execution.cluster import MESSAGE_LOG_LENGTH, ClusterOptions, connect
from framework.execution.task import run_ensemble

from framework.execution.orchestrator import RunOptions, run_plan
from framework.execution.progress import ScanProgress
from framework.planning.plan import plan_file
from framework.storage.check import check_store
from framework.storage.store import STATUS_CODE
from scans import (
    FAILING,
    ROOT,
    SLOW,
    TINY,
    assert_same_results,
    hand_started_cluster,
    overparam,
    results,
    wait_for,
    write_pipeline,
)

DATA = Path(__file__).parent / "data"


def done_count(store: Path) -> int:
    try:
        return int((zarr.open_group(str(store), mode="r")["status"][...] == STATUS_CODE["done"]).sum())
    except Exception:  # not created yet
        return 0


def test_scan_on_a_local_cluster_equals_each_job_run_alone_in_this_process(tmp_path):
    pipeline = write_pipeline(tmp_path, TINY)
    plan = plan_file(pipeline)
    summary = run_plan(plan, RunOptions(cluster=ClusterOptions(workers=2, threads=1), progress="quiet"))
    assert summary.ok and summary.counts["done"] == 4
    stored = xr.open_zarr(str(tmp_path / "tiny.zarr")).load()
    layout = plan.layout
    for job in plan.jobs:
        alone = run_ensemble([job], layout)[0]
        point = stored.isel(m=job.point.index[0], seed=job.point.index[1])
        assert int(point["status"]) == STATUS_CODE["done"]
        for name, values in alone.values.items():
            assert np.array_equal(point[name].values, values, equal_nan=True), (job.point.label(), name)


@pytest.fixture(scope="module")
def hand_started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A ``dask scheduler`` and ``dask worker`` started as a person would, shared by the scans
    that go through one (each connects, prepares its workers and disconnects)."""
    with hand_started_cluster(tmp_path_factory.mktemp("hand")) as address:
        yield address


def test_scan_through_a_separately_started_scheduler_and_worker(tmp_path, hand_started):
    pipeline = write_pipeline(tmp_path, TINY)
    out = overparam("run", str(pipeline), "--scheduler", hand_started, "--progress", "plain")
    assert out.returncode == 0, out.stderr
    assert "4 done" in out.stdout
    local = overparam("run", str(pipeline), "--store", str(tmp_path / "local.zarr"), "--quiet")
    assert local.returncode == 0, local.stderr
    assert_same_results(results(tmp_path / "tiny.zarr"), results(tmp_path / "local.zarr"))


THOUSANDS = """\
name: thousands
grid:
  m: [8, 12]
  seed: 1000
stages:
  data: {plugin: separable, params: {n: 2, L: 3, d_x: 3, d: 1, delta: 0.1}}
  init: {plugin: paper, params: {m: "${grid.m}"}}
  train: {plugin: gd, params: {steps: 3, lr: 0.05/m}, needs: [data, init]}
  diagnose: {plugins: [loss, forward_norms], schedule: {log: 2}, needs: [train]}
store: thousands.zarr
"""


def test_a_scan_of_thousands_of_points_through_a_separately_started_cluster(tmp_path, hand_started):
    pipeline = write_pipeline(tmp_path, THOUSANDS)
    out = overparam("run", str(pipeline), "--scheduler", hand_started, "--progress", "plain", timeout=600)
    assert out.returncode == 0, out.stderr
    assert "2000 done" in out.stdout
    assert len(out.stdout.splitlines()) < 300  # plain progress: not a line per point
    store = tmp_path / "thousands.zarr"
    assert sum(len(files) for _, _, files in os.walk(store)) < 200
    assert check_store(store).complete
    stored = xr.open_zarr(str(store)).load()
    plan = plan_file(pipeline)
    layout = plan.layout
    for number in range(0, len(plan.jobs), 97):  # a sample of the points, each run alone in this process
        job = plan.jobs[number]
        alone = run_ensemble([job], layout)[0]
        point = stored.isel(m=job.point.index[0], seed=job.point.index[1])
        for name, values in alone.values.items():
            assert np.array_equal(point[name].values, values, equal_nan=True), (job.point.label(), name)


def test_waiting_for_batches_lets_go_of_their_futures_however_often_it_flushes(tmp_path, monkeypatch):
    # finished points are written while waiting for batches (every 0.02 s here); a wait that
    # kept its futures alive (distributed.wait with a timeout did, in reference cycles that only
    # a full garbage collection frees) keeps their tasks on the scheduler and their results on
    # the workers: 500 MB of a 10^5-point scan's client. With the collector off, the futures
    # the client holds must stay within the batches in flight and those just finished.
    import gc

    from distributed import get_client

    import framework.execution.orchestrator as orchestrator

    held: list[int] = []
    recorded = orchestrator._recorded

    def counting(plan, written):
        held.append(len(get_client().futures))
        recorded(plan, written)

    monkeypatch.setattr(orchestrator, "_recorded", counting)
    plan = plan_file(write_pipeline(tmp_path, THOUSANDS.replace("seed: 1000", "seed: 600")))
    gc.disable()
    try:
        summary = run_plan(plan, RunOptions(cluster=ClusterOptions(workers=2, threads=1), progress="quiet",
                                            flush_interval=0.02, tasks_per_batch=20))
    finally:
        gc.enable()
    assert summary.ok and summary.counts["done"] == 1200
    in_flight = orchestrator.IN_FLIGHT_PER_SLOT * 2  # two worker threads
    assert len(held) > 20 and max(held) <= 3 * in_flight, held  # 8 here, at every point


@pytest.mark.slow  # in CI, tests/faults/test_fault_kills.py kills the client at a random moment and resumes
def test_killing_the_client_mid_scan_then_resuming_recomputes_nothing_done(tmp_path):
    """Each point is written as it finishes (``--flush-every 0``), so the kill comes while points are left."""
    pipeline = write_pipeline(tmp_path, SLOW)
    store = tmp_path / "slow.zarr"
    first = subprocess.Popen([sys.executable, "-m", "framework.cli.commands", "run", str(pipeline), "--quiet",
                              "--max-ensemble", "1", "--flush-every", "0"], cwd=ROOT, start_new_session=True, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: (tmp_path / "slow.zarr.lock").exists(), 120, "the first run's lock")
        busy = overparam("run", str(pipeline), "--quiet")
        assert busy.returncode == 2 and "in use by another overparam run" in busy.stderr
        wait_for(lambda: done_count(store) >= 2, 120, "two done grid points")
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    before = xr.open_zarr(str(store)).load()
    done_before = before["status"].values == STATUS_CODE["done"]
    assert 2 <= done_before.sum() < done_before.size
    resumed = overparam("run", str(pipeline), "--progress", "plain")
    assert resumed.returncode == 0, resumed.stderr
    assert f"skipping {done_before.sum()} grid points already done" in resumed.stdout
    after = xr.open_zarr(str(store)).load()
    assert (after["status"].values == STATUS_CODE["done"]).all()
    finished_before = before["finished_at"].values[done_before]
    assert np.array_equal(after["finished_at"].values[done_before], finished_before)
    clean = overparam("run", str(pipeline), "--store", str(tmp_path / "clean.zarr"), "--quiet")
    assert clean.returncode == 0, clean.stderr
    assert_same_results(results(store), results(tmp_path / "clean.zarr"))


@pytest.mark.slow  # in CI, tests/faults/test_fault_kills.py kills a worker and compares with an uninterrupted run
def test_a_worker_killed_mid_job_is_replaced_and_the_scan_completes(tmp_path):
    pipeline = write_pipeline(tmp_path, SLOW)
    store = tmp_path / "slow.zarr"
    run = subprocess.Popen([sys.executable, "-m", "framework.cli.commands", "run", str(pipeline), "--quiet", "--workers", "2",
                            "--threads", "1", "--flush-every", "0"], cwd=ROOT, start_new_session=True, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: done_count(store) >= 1, 120, "a first done grid point")
        client = psutil.Process(run.pid)
        workers = [p for p in client.children(recursive=True)
                   if any("spawn" in part or "multiprocessing" in part for part in p.cmdline())]
        assert workers, "no worker processes found"
        workers[-1].kill()
        out, err = run.communicate(timeout=180)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert run.returncode == 0, err
    assert (xr.open_zarr(str(store))["status"].values == STATUS_CODE["done"]).all()


def test_raising_and_diverging_points_are_recorded_and_the_rest_completes(tmp_path):
    pipeline = write_pipeline(tmp_path, FAILING)
    hook_log = tmp_path / "hooks.jsonl"
    env = {"PYTHONPATH": os.pathsep.join([str(DATA), os.environ.get("PYTHONPATH", "")]),
           "OVERPARAM_TEST_HOOK_LOG": str(hook_log)}
    out = overparam("run", str(pipeline), "--progress", "plain", env=env)
    assert out.returncode == 1, out.stderr
    ds = xr.open_zarr(str(tmp_path / "failing.zarr")).load()
    status = dict(zip(ds["case"].values.tolist(), ds["status"].values.tolist()))
    assert status == {"fine": STATUS_CODE["done"], "raises": STATUS_CODE["failed"],
                      "diverges": STATUS_CODE["diverged"], "fine_too": STATUS_CODE["done"]}
    errors = dict(zip(ds["case"].values.tolist(), ds["error"].values.tolist()))
    assert "exploded, as asked" in errors["raises"] and "RuntimeError" in errors["raises"]
    assert "non-finite at step" in errors["diverges"]
    assert errors["fine"] == "" and ds["reached_step"].sel(case="fine") == 200
    assert 0 < int(ds["reached_step"].sel(case="diverges")) < 200
    assert np.isfinite(ds["loss"].sel(case="fine").values).all()
    events = [json.loads(line) for line in hook_log.read_text().splitlines()]
    assert sorted(e["event"] for e in events) == ["failed", "failed", "finished", "finished", "run_finished"]
    show = overparam("show", str(tmp_path / "failing.zarr"))
    assert show.returncode == 0 and "2 done, 1 failed, 1 diverged" in show.stdout and "exploded" in show.stdout


KILLER = """\
name: killer
plugins: [flaky_plugin]
grid:
  case: [fine, kills_its_worker]
  die: [false, true]
  zip: [[case, die]]
stages:
  data: {plugin: flaky, params: {n: 8, die: "${grid.die}"}}
  init: {plugin: paper, params: {m: 32}}
  train: {plugin: gd, params: {steps: 50, lr: 0.001}, needs: [data, init]}
store: killer.zarr
"""


def test_a_job_that_kills_its_worker_every_time_is_recorded_failed_and_the_scan_goes_on(tmp_path):
    pipeline = write_pipeline(tmp_path, KILLER)
    env = {"PYTHONPATH": os.pathsep.join([str(DATA), os.environ.get("PYTHONPATH", "")])}
    out = overparam("run", str(pipeline), "--workers", "2", "--max-ensemble", "1", "--quiet", env=env)
    assert out.returncode == 1, out.stderr
    ds = xr.open_zarr(str(tmp_path / "killer.zarr")).load()
    status = dict(zip(ds["case"].values.tolist(), ds["status"].values.tolist()))
    assert status == {"fine": STATUS_CODE["done"], "kills_its_worker": STATUS_CODE["failed"]}
    assert "KilledWorker" in str(ds["error"].sel(case="kills_its_worker").values)


def test_fail_fast_records_the_first_failure_and_leaves_every_later_point_pending(tmp_path):
    # FAILING's four points share one ensemble key, so with one point per task they are submitted in
    # grid order (fine, raises, diverges, fine_too) to one single-threaded worker, which runs them in
    # that order. "Stop at the first failed or diverged grid point" (run --help) then means: fine done,
    # raises failed, nothing after it recorded. Exit status 1 (some point failed), not 130: fail-fast
    # is not an interruption.
    pipeline = write_pipeline(tmp_path, FAILING)
    env = {"PYTHONPATH": os.pathsep.join([str(DATA), os.environ.get("PYTHONPATH", "")])}
    out = overparam("run", str(pipeline), "--fail-fast", "--workers", "1", "--max-ensemble", "1", "--quiet", env=env)
    assert out.returncode == 1, out.stderr
    ds = xr.open_zarr(str(tmp_path / "failing.zarr")).load()
    status = dict(zip(ds["case"].values.tolist(), ds["status"].values.tolist()))
    assert status == {"fine": STATUS_CODE["done"], "raises": STATUS_CODE["failed"],
                      "diverges": STATUS_CODE["pending"], "fine_too": STATUS_CODE["pending"]}
    assert "exploded, as asked" in str(ds["error"].sel(case="raises").values)


def test_an_invalid_pipeline_runs_nothing_and_writes_nothing(tmp_path):
    pipeline = write_pipeline(tmp_path, TINY.replace("steps: 60", "steps: -3"))
    out = overparam("run", str(pipeline))
    assert out.returncode == 2
    assert "stages.train.params.steps" in out.stderr and "Traceback" not in out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipeline.yaml"]


class CtrlCOnFirstPoint(ScanProgress):
    """The progress display of a user who presses Ctrl-C (a real SIGINT to this process) the
    moment the first finished point is shown."""

    def point_finished(self, label: str, status: str, wall_time: float, note: str = "") -> None:
        super().point_finished(label, status, wall_time, note)
        if sum(self.counts.values()) == 1:
            os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_just_as_a_point_is_shown_keeps_every_point_the_run_says_it_kept(tmp_path):
    plan = plan_file(write_pipeline(tmp_path, TINY.replace("seed: 2", "seed: 12")))
    summary = run_plan(plan, RunOptions(cluster=ClusterOptions(workers=1, threads=1), max_ensemble=1,
                                        tasks_per_batch=4, flush_interval=1000.0),
                       progress=CtrlCOnFirstPoint("quiet"))
    assert summary.interrupted
    kept = summary.skipped + sum(summary.counts.values())
    done = int((xr.open_zarr(str(tmp_path / "tiny.zarr"))["status"] == STATUS_CODE["done"]).sum())
    assert 4 <= kept < 24 and done == kept, summary.text()  # the whole first batch, shown or not


def _payload_length(items: list[int]) -> int:
    return len(items)


def test_no_connection_keeps_more_than_a_few_messages_of_the_tasks_it_sent():
    """A message holds its task's arguments (a batch's jobs); Dask kept the last 1000 batches of
    messages of every connection, which held 550 MB of jobs in a scan of 10^5 points."""
    with connect(ClusterOptions(workers=1, threads=1), "cpu") as (client, _):
        for number in range(40):  # one at a time: each goes out as a batch of its own
            assert client.submit(_payload_length, list(range(2000 + number)), pure=False).result() == 2000 + number
        scheduler = client.cluster.scheduler
        logs = [client.scheduler_comm.recent_message_log, *(c.recent_message_log for c in scheduler.stream_comms.values()),
                *(c.recent_message_log for c in scheduler.client_comms.values())]
        assert len(logs) >= 3 and all(0 < len(log) <= MESSAGE_LOG_LENGTH for log in logs), [len(log) for log in logs]
