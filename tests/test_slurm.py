"""Scans on a real SLURM through dask-jobqueue (framework/execution/jobqueue.py), from the
command line as a user runs them, with the job settings in a ``DASK_CONFIG`` file.

Each test checks its store against a local run of the same pipeline, bit for bit, and that
no job is left in SLURM's queue. SLURM runs on this machine (tests/slurm.py); without it these
tests are skipped with the reason, and under ``CI=true`` they fail instead.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from distributed import Client
from distributed.security import Security

from scans import assert_same_results, done_points, overparam, results, wait_for, write_pipeline
from slurm import partition_down, queue, slurm_cluster

TINY = """\
name: on-slurm
grid:
  m: [32, 48]
  seed: 2
stages:
  data: {plugin: separable, params: {n: 4, L: 4, d_x: 4, d: 2, delta: 0.3}}
  init: {plugin: paper, params: {m: "${grid.m}"}}
  train: {plugin: gd, params: {steps: 60, lr: 0.05/m}, needs: [data, init]}
  diagnose: {plugins: [loss, dprime_sparsity], schedule: {log: 6}, needs: [train]}
store: on-slurm.zarr
"""
# eight points of about a second each on one core: long enough to act on a running scan
LONGER = TINY.replace("m: [32, 48]", "m: [96, 128]").replace("seed: 2", "seed: 4").replace("steps: 60", "steps: 2000")
SETTINGS = """\
jobqueue:
  slurm:
    cores: 1
    memory: 1GB
    walltime: '00:10:00'
    queue: debug
    death-timeout: 8
"""
LOCAL = ("--workers", "1", "--threads", "1", "--quiet")


@pytest.fixture(scope="module")
def slurm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """SLURM running, and the environment a user's shell would have: ``SLURM_CONF`` and a
    ``DASK_CONFIG`` file holding the job settings."""
    folder = tmp_path_factory.mktemp("slurm")
    with slurm_cluster(folder / "daemons") as conf:
        (folder / "dask.yaml").write_text(SETTINGS)
        yield {"SLURM_CONF": str(conf), "DASK_CONFIG": str(folder / "dask.yaml")}


def on_slurm(pipeline: Path, store: Path, *extra: str) -> tuple[str, ...]:
    return ("run", str(pipeline), "--store", str(store), "--cluster", "slurm", "--host", "127.0.0.1",
            "--progress", "plain", *extra)


def empty_queue(slurm: dict[str, str], within: float = 30.0) -> None:
    wait_for(lambda: not queue(Path(slurm["SLURM_CONF"])), within, "SLURM's queue to be empty")


def started(args: tuple[str, ...], env: dict[str, str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "framework.cli.commands", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, **env}, cwd=cwd,
                            start_new_session=True)


def line_with(process: subprocess.Popen, text: str, timeout: float = 120) -> str:
    """The first line of the run's output that holds ``text``."""
    deadline = time.monotonic() + timeout
    for line in process.stdout:
        if text in line:
            return line
        if time.monotonic() > deadline:
            break
    raise AssertionError(f"no line with {text!r} in the run's output")


def finishes_as_the_local_run(run: subprocess.Popen, store: Path, local: Path, slurm: dict[str, str]) -> str:
    """The scan ends well, its store equal to the local run's bit for bit, no job left queued;
    the run's output."""
    output = run.communicate(timeout=240)[0]
    assert run.returncode == 0, output
    assert_same_results(results(store), results(local))
    empty_queue(slurm)
    return output


def reference(folder: Path, text: str) -> tuple[Path, Path]:
    """The pipeline, and its store as a local run leaves it."""
    pipeline = write_pipeline(folder, text)
    local = folder / "local.zarr"
    out = overparam("run", str(pipeline), "--store", str(local), *LOCAL)
    assert out.returncode == 0, out.stderr
    return pipeline, local


@pytest.fixture(scope="module")
def longer(slurm, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The longer pipeline and its local run, shared by the tests that act on a running scan."""
    return reference(tmp_path_factory.mktemp("longer"), LONGER)


def test_a_scan_on_two_slurm_jobs_equals_a_local_run_and_leaves_the_queue_empty(slurm, tmp_path):
    pipeline, local = reference(tmp_path, TINY)
    out = overparam(*on_slurm(pipeline, tmp_path / "slurm.zarr", "--jobs", "2"), env=slurm)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "starting a SLURM cluster through dask-jobqueue: 2 jobs, over TLS" in out.stdout
    assert "dask-jobqueue scheduler at tls://127.0.0.1:" in out.stdout
    assert_same_results(results(tmp_path / "slurm.zarr"), results(local))
    empty_queue(slurm)


def test_a_worker_job_cancelled_mid_scan_loses_nothing(slurm, longer, tmp_path):
    pipeline, local = longer
    store = tmp_path / "slurm.zarr"
    run = started(on_slurm(pipeline, store, "--jobs", "2"), slurm, tmp_path)
    line_with(run, "[1/")  # a point is done: both jobs are at work
    jobs = queue(Path(slurm["SLURM_CONF"]))
    assert len(jobs) == 2, jobs
    subprocess.run(["scancel", jobs[0].split()[0]], env={**os.environ, **slurm}, check=True)
    finishes_as_the_local_run(run, store, local, slurm)


def test_an_intruder_without_the_runs_credentials_is_refused_and_the_scan_finishes(slurm, longer, tmp_path):
    pipeline, local = longer
    store = tmp_path / "slurm.zarr"
    run = started(on_slurm(pipeline, store, "--jobs", "2"), slurm, tmp_path)
    address = line_with(run, "dask-jobqueue scheduler at").split(" at ", 1)[1].split(";")[0].strip()
    assert address.startswith("tls://")
    # TLS with credentials of the intruder's own (another certificate authority), and plain TCP
    for attempt, security in ((address, Security.temporary()), (address.replace("tls://", "tcp://"), None)):
        with pytest.raises((OSError, TimeoutError)):
            Client(attempt, security=security, timeout=3)
    finishes_as_the_local_run(run, store, local, slurm)


def test_every_job_gone_ends_the_scan_with_one_line_and_the_store_resumes(slurm, longer, tmp_path):
    pipeline, local = longer
    store = tmp_path / "slurm.zarr"
    # two points per task: packed four to a task, the first line came with half the points, and the
    # other half was done before the cancel took effect (seen once: 8 of 8 done); two per task
    # leave two tasks to run after the first line
    run = started(on_slurm(pipeline, store, "--jobs", "2", "--max-ensemble", "2"), slurm, tmp_path)
    line_with(run, "[1/")
    subprocess.run(["scancel", "--user", os.environ.get("USER", "root")], env={**os.environ, **slurm}, check=True)
    output = run.communicate(timeout=120)[0]
    assert run.returncode == 2, output
    last = output.strip().splitlines()[-1]
    assert "every worker left the cluster" in last and "run the same command again to resume" in last, output
    kept = done_points(store)
    assert kept, "the points done before the jobs ended are kept"
    resumed = overparam("run", str(pipeline), "--store", str(store), *LOCAL)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(kept)} of 8 grid points were already done" in resumed.stdout
    assert_same_results(results(store), results(local))
    empty_queue(slurm)


def test_a_killed_client_leaves_no_job_past_the_workers_death_timeout(slurm, longer, tmp_path):
    pipeline, local = longer
    store = tmp_path / "slurm.zarr"
    run = started(on_slurm(pipeline, store, "--jobs", "2"), slurm, tmp_path)
    line_with(run, "[1/")
    os.killpg(run.pid, signal.SIGKILL)
    run.wait(timeout=30)
    empty_queue(slurm, within=8 + 30)  # the workers' death-timeout (8 s), and SLURM's own cleanup
    resumed = overparam("run", str(pipeline), "--store", str(store), *LOCAL)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_results(results(store), results(local))


def test_an_adaptive_cluster_replaces_ended_jobs_and_the_scan_completes(slurm, longer, tmp_path):
    """Every way a job ends is made good: a pending job cancelled while the run waits for its
    first worker, a running job whose worker left (dask-jobqueue's own replacement, after
    ``lost-worker-timeout``), and a pending job cancelled mid-scan, which only SLURM's queue
    tells of (framework/execution/ended_jobs.py)."""
    pipeline, local = longer
    store = tmp_path / "slurm.zarr"
    conf = Path(slurm["SLURM_CONF"])
    with partition_down(conf):  # jobs queue but do not start
        run = started(on_slurm(pipeline, store, "--adapt", "1:2"), slurm, tmp_path)
        with output_on_failure(run):
            assert "1 to 2 jobs, adaptively" in line_with(run, "starting a SLURM cluster")
            wait_for(lambda: bool(queue(conf)), 30, "the first job")
            wait_for_new_jobs(conf, cancel_every_job(slurm), 30)
    with output_on_failure(run):
        line_with(run, "[1/")
        with partition_down(conf):
            running = cancel_every_job(slurm)
            pending = wait_for_new_jobs(conf, running, 60)
            assert all(line.split()[1] == "PENDING" for line in queue(conf) if line.split()[0] in pending), queue(conf)
            cancel_every_job(slurm)
            wait_for_new_jobs(conf, running | pending, 30)
    output = finishes_as_the_local_run(run, store, local, slurm)
    for job in sorted(pending):
        assert f"SLURM job {job} ended before its worker joined" in output, output


@contextmanager
def output_on_failure(run: subprocess.Popen) -> Iterator[None]:
    """A failed check ends the run and shows its output with the failure."""
    try:
        yield
    except AssertionError as failure:
        os.killpg(run.pid, signal.SIGKILL)
        raise AssertionError(f"{failure}\nthe run's output:\n{run.communicate(timeout=30)[0]}") from None


def cancel_every_job(slurm: dict[str, str]) -> set[str]:
    """``scancel`` every job in SLURM's queue; their ids."""
    jobs = {line.split()[0] for line in queue(Path(slurm["SLURM_CONF"]))}
    subprocess.run(["scancel", *jobs], env={**os.environ, **slurm}, check=True)
    return jobs


def wait_for_new_jobs(conf: Path, ended: set[str], within: float) -> set[str]:
    """The ids of the jobs submitted in place of ``ended``, once there are any."""
    wait_for(lambda: any(line.split()[0] not in ended for line in queue(conf)), within, "a job submitted in their place")
    return {line.split()[0] for line in queue(conf)} - ended


def test_the_python_api_runs_the_same_scan_on_slurm(slurm, tmp_path, monkeypatch):
    """``overparam.run(..., cluster="slurm", jobs=2)`` in this process: the settings given as
    ``cluster_options``, SLURM reached through the environment as a user's shell has it."""
    import overparam

    pipeline, local = reference(tmp_path, TINY)
    monkeypatch.setenv("SLURM_CONF", slurm["SLURM_CONF"])
    ds = overparam.run(pipeline, store=tmp_path / "api.zarr", cluster="slurm", jobs=2, progress=False,
                       cluster_options={"cores": 1, "memory": "1GB", "queue": "debug", "death-timeout": 8})
    assert int((ds.status == 1).sum()) == 4
    assert_same_results(results(tmp_path / "api.zarr"), results(local))
    empty_queue(slurm)
    with pytest.raises(overparam.ClusterError, match="walltime"):
        overparam.run(pipeline, store=tmp_path / "refused.zarr", cluster="slurm",
                      cluster_options={"cores": 1, "memory": "1GB", "walltime": "2h"})
    assert not (tmp_path / "refused.zarr").exists()
