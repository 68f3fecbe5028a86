"""Large scans on two workers: wall time against the same jobs run in one process, the store's
files and size against the numbers it holds, the client's memory from 10^4 to 10^5 points, and
``validate``/``plan`` of a 10^6-point grid.

The scan is the tiny one of the large-scan issue (m = 16, 32; n = 4, L = 4, d_x = 4, d = 2;
20 GD steps; loss, pl_ratio, dprime_sparsity, weight_distance and forward_norms at 5 logged
steps; float32) with seeds for POINTS grid points. The in-process reference runs a sample of
its jobs one after another, unpadded, in this process on one torch thread (``run_ensemble``, as a
worker does) and scales the time per job to the whole scan (the same sample padded, and packed
into ensembles, is timed too); the scan itself is ``overparam run`` in a child
process, whose resident memory is sampled every 0.2 s (the client alone: the workers are
separate processes).

    python benchmarks/scan_scale.py [--points 100000] [--small 10000] [--sample 2000] [--figure PATH]

Prints one table and writes the client's memory over time for both scans to ``--figure``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = """\
name: scan-scale
dtype: float32
grid:
  m: [16, 32]
  seed: SEEDS
stages:
  data: {plugin: separable, params: {n: 4, L: 4, d_x: 4, d: 2, delta: 0.2}}
  init: {plugin: paper, params: {m: "${grid.m}"}}
  train: {plugin: gd, params: {steps: 20, lr: 0.05/m}, needs: [data, init]}
  diagnose: {plugins: [loss, pl_ratio, dprime_sparsity, weight_distance, forward_norms], schedule: {log: 5}, needs: [train]}
store: scan.zarr
"""
WORKERS = 2


def write(folder: Path, points: int) -> Path:
    path = folder / f"scan-{points}.yaml"
    path.write_text(PIPELINE.replace("SEEDS", str(points // 2)).replace("scan.zarr", f"scan-{points}.zarr"))
    return path


def in_process_seconds_per_job(pipeline: Path, sample: int, way: str) -> float:
    """The time per job of ``sample`` jobs run in this process on one torch thread, as a worker
    runs them (after one warm-up task): ``alone`` one after another, unpadded (as every job of
    these shapes ran before networks were padded: the reference the issue set); ``padded`` one
    after another, padded to aligned n and m as a job alone now is; ``packed`` grouped into
    ensembles as the scan groups them (``group_tasks``, two worker threads)."""
    import torch

    from framework.execution.task import run_ensemble
    from framework.planning.plan import plan_file
    from framework.planning.tasks import Packing

    from plugins.optimizers import GradientDescent

    torch.set_num_threads(1)
    plan = plan_file(pipeline)
    layout = plan.layout
    step = max(1, len(plan.jobs) // sample)  # spread over the grid: both widths
    jobs = [plan.jobs[i] for i in range(0, len(plan.jobs), step)][:sample]
    GradientDescent.keeps_padding_zero = way != "alone"  # never padded, so never packed, when False
    try:
        tasks = Packing(plan.pipeline.dtype, slots=WORKERS).tasks(jobs) if way == "packed" else [[job] for job in jobs]
        run_ensemble(tasks[0], layout, "cpu", plan.pipeline.dtype)
        start = time.perf_counter()
        for task in tasks:
            run_ensemble(task, layout, "cpu", plan.pipeline.dtype)
        return (time.perf_counter() - start) / len(jobs)
    finally:
        GradientDescent.keeps_padding_zero = True


def run_sampled(command: list[str], cwd: Path) -> tuple[float, list[tuple[float, int]], int]:
    """Run a command; (seconds, [(t, client RSS bytes)], exit status)."""
    start = time.perf_counter()
    child = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    process = psutil.Process(child.pid)
    samples = []
    while child.poll() is None:
        try:
            samples.append((time.perf_counter() - start, process.memory_info().rss))
        except psutil.NoSuchProcess:
            break
        time.sleep(0.2)
    _, err = child.communicate()
    if child.returncode != 0:
        print(err, file=sys.stderr)
    return time.perf_counter() - start, samples, child.returncode


def store_figures(path: Path) -> dict[str, float]:
    """Files and bytes on disk, and the bytes of the numbers it holds (every variable's array)."""
    import xarray as xr

    files = sum(len(names) for _, _, names in os.walk(path))
    disk = sum(os.path.getsize(os.path.join(d, n)) for d, _, names in os.walk(path) for n in names)
    ds = xr.open_zarr(str(path))
    raw = sum(ds[name].nbytes for name in ds.data_vars if ds[name].dtype != object)
    done = int((ds["status"] == 1).sum())
    return {"files": files, "disk_mb": disk / 1e6, "raw_mb": raw / 1e6, "done": done}


def overparam(*args: str) -> list[str]:
    return [sys.executable, "-m", "framework.cli.commands", *args]


def peak_of(command: list[str], cwd: Path) -> tuple[float, float]:
    """Seconds and peak resident MB of a short command (its child's ``ru_maxrss``)."""
    wrapper = [sys.executable, "-c", "import resource, subprocess, sys, time; t = time.perf_counter(); "
               "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
               "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)", *command]
    seconds, peak_kb = subprocess.run(wrapper, cwd=cwd, capture_output=True, text=True, check=True).stdout.split()
    return float(seconds), int(peak_kb) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000, help="the smaller scan, for the memory's flatness")
    parser.add_argument("--sample", type=int, default=2000, help="jobs timed in process")
    parser.add_argument("--grid", type=int, default=1_000_000, help="grid points of the validate/plan test")
    parser.add_argument("--figure", type=Path, default=ROOT / "docs" / "figures" / "scan_scale_memory.png")
    args = parser.parse_args()
    figures: dict[str, object] = {}
    memory: dict[int, list[tuple[float, int]]] = {}
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        big = write(folder, args.grid)
        figures["validate_s"], figures["validate_mb"] = peak_of(overparam("validate", str(big)), folder)
        figures["plan_s"], figures["plan_mb"] = peak_of(overparam("plan", str(big)), folder)
        for way in ("alone", "padded", "packed"):
            figures[f"in_process_ms_per_job_{way}"] = 1e3 * in_process_seconds_per_job(
                write(folder, args.points), args.sample, way)
        per_job = figures["in_process_ms_per_job_alone"] / 1e3
        for points in (args.small, args.points):
            pipeline = write(folder, points)
            seconds, samples, status = run_sampled(
                overparam("run", str(pipeline), "--workers", str(WORKERS), "--threads", "1", "--quiet"), folder)
            assert status == 0, f"the scan of {points} points failed"
            memory[points] = samples
            ideal = per_job * points / WORKERS
            figures[f"scan_{points}"] = {
                "wall_s": seconds, "in_process_over_workers_s": ideal, "ratio": seconds / ideal,
                "client_peak_mb": max(r for _, r in samples) / 2**20, **store_figures(folder / f"scan-{points}.zarr")}
    print(json.dumps(figures, indent=2))
    _table(figures, args)
    _figure(memory, args.figure)


def _table(figures: dict, args: argparse.Namespace) -> None:
    print(f"\nvalidate {args.grid:,} points: {figures['validate_s']:.1f} s, {figures['validate_mb']:.0f} MB; "
          f"plan: {figures['plan_s']:.1f} s, {figures['plan_mb']:.0f} MB")
    print(f"in process ({args.sample} jobs sampled), ms per job: {figures['in_process_ms_per_job_alone']:.1f} one "
          f"after another unpadded (the reference), {figures['in_process_ms_per_job_padded']:.1f} padded, "
          f"{figures['in_process_ms_per_job_packed']:.1f} packed into ensembles")
    print("| points | wall | in-process / 2 workers | ratio | files | on disk | numbers | client peak |")
    print("|---|---|---|---|---|---|---|---|")
    for points in (args.small, args.points):
        f = figures[f"scan_{points}"]
        print(f"| {points:,} | {f['wall_s']:.0f} s | {f['in_process_over_workers_s']:.0f} s | {f['ratio']:.2f} | "
              f"{f['files']:,} | {f['disk_mb']:.1f} MB | {f['raw_mb']:.1f} MB | {f['client_peak_mb']:.0f} MB |")


def _figure(memory: dict[int, list[tuple[float, int]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for points, samples in memory.items():
        end = samples[-1][0]
        ax.plot([t / end for t, _ in samples], [r / 2**20 for _, r in samples], label=f"{points:,} grid points")
    ax.set_xlabel("fraction of the scan's wall time")
    ax.set_ylabel("client resident memory (MiB)")
    ax.set_ylim(bottom=0)
    ax.set_title("Client memory of a scan on 2 workers")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    print(f"figure: {path}")


if __name__ == "__main__":
    main()
