"""The cost of orchestration: what a scan spends beyond its jobs' own time.

Two scans on a local cluster of 2 workers, one grid point per task: 200 jobs that do almost
nothing (overhead per job = (scan time − Σ job times / workers) / jobs), and 20 jobs of about
2 s each (parallel efficiency = Σ job times / (workers × scan time)). The scan time is the
run's time less the cluster's start-up, which is measured on its own (start, one trivial task
per worker, close); the workers' first import of torch stays in the scan time. Job times are
the store's ``wall_time``.

    python benchmarks/orchestration.py [--workers 2]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import xarray as xr

from framework.execution.cluster import ClusterOptions
from framework.execution.orchestrator import RunOptions, run_plan
from framework.planning.plan import plan_file

TINY = """\
name: tiny-jobs
grid:
  seed: 200
stages:
  data: {plugin: separable, params: {n: 1, L: 2, d_x: 2, d: 1, delta: 0.5}}
  init: {plugin: paper, params: {m: 8}}
  train: {plugin: gd, params: {steps: 1, lr: 0.01}, needs: [data, init]}
  diagnose: {plugins: [loss], schedule: {log: 2}, needs: [train]}
store: tiny-jobs.zarr
"""

TWO_SECONDS = """\
name: two-second-jobs
grid:
  seed: 20
stages:
  data: {plugin: separable, params: {n: 8, L: 8, d_x: 8, d: 4, delta: 0.3}}
  init: {plugin: paper, params: {m: 256}}
  train: {plugin: gd, params: {steps: STEPS, lr: 0.05/m}, needs: [data, init]}
  diagnose: {plugins: [loss], schedule: {log: 10}, needs: [train]}
store: two-second-jobs.zarr
"""


def scan(text: str, folder: Path, workers: int) -> tuple[float, np.ndarray]:
    """Run a pipeline one job per task; (scan time, each job's wall time)."""
    path = folder / "pipeline.yaml"
    path.write_text(text)
    plan = plan_file(path)
    start = time.perf_counter()
    summary = run_plan(plan, RunOptions(cluster=ClusterOptions(workers=workers, threads=1), progress="quiet",
                                        max_ensemble=1))
    total = time.perf_counter() - start
    assert summary.ok, summary.text()
    ds = xr.open_zarr(str(plan.pipeline.store))
    return total, ds["wall_time"].values.ravel()


def cluster_start(workers: int) -> float:
    """Seconds to start and close the local cluster and run one trivial task on each worker."""
    from framework.execution.cluster import connect

    start = time.perf_counter()
    with connect(ClusterOptions(workers=workers, threads=1), "cpu") as (client, _):
        client.gather(client.map(lambda i: i, range(workers), pure=False))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--steps", type=int, default=1500, help="GD steps of a 'two-second' job (calibrate)")
    args = parser.parse_args()
    startup = cluster_start(args.workers)
    print(f"cluster start + one task per worker + close: {startup:.2f} s")
    with tempfile.TemporaryDirectory() as folder:
        total, jobs = scan(TINY, Path(folder), args.workers)
        scan_time = total - startup
        overhead = (scan_time - jobs.sum() / args.workers) / jobs.size
        print(f"{jobs.size} tiny jobs: run {total:.2f} s (≈{scan_time:.2f} s after start-up), Σ job time "
              f"{jobs.sum():.2f} s; overhead {1e3 * overhead:.1f} ms per job (target < 25 ms)")
    with tempfile.TemporaryDirectory() as folder:
        total, jobs = scan(TWO_SECONDS.replace("STEPS", str(args.steps)), Path(folder), args.workers)
        scan_time = total - startup
        efficiency = jobs.sum() / (args.workers * scan_time)
        print(f"{jobs.size} jobs of {np.median(jobs):.2f} s (median): run {total:.2f} s (≈{scan_time:.2f} s after "
              f"start-up), Σ job time {jobs.sum():.2f} s; parallel efficiency {100 * efficiency:.0f}% (target ≥ 85%)")


if __name__ == "__main__":
    main()
