"""Workers as overparam prepares them, local or started by hand, and the progress they report:
allocations kept in the heap (Dask's MALLOC_TRIM_THRESHOLD_ otherwise maps every tensor),
torch threads that share the host's cores, and training progress that moves the estimate."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from framework.execution.cluster import ClusterOptions, WorkerSetup, connect, usable_cores
from framework.execution.orchestrator import RunOptions, run_plan
from framework.planning.plan import plan_file
from framework.execution.progress import ScanProgress
from scans import SLOW, hand_started_cluster, write_pipeline

FAULTS_SCRIPT = """
import resource, sys, torch
if sys.argv[1] == "heap":
    from framework.execution.worker_setup import keep_allocations_in_the_heap
    assert keep_allocations_in_the_heap()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(300):
    torch.ones(256, 512, dtype=torch.float64)  # 1 MiB, freed at once
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def page_faults(mode: str) -> int:
    env = {"MALLOC_TRIM_THRESHOLD_": "65536", "PATH": "/usr/bin:/bin"}  # what Dask's nanny gives a worker
    done = subprocess.run([sys.executable, "-c", FAULTS_SCRIPT, mode], capture_output=True, text=True, env=env,
                          cwd=Path(__file__).resolve().parents[1], timeout=120)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


def test_with_dasks_trim_threshold_each_tensor_is_mapped_anew_unless_kept_in_the_heap():
    # mapped: each 1 MiB tensor faults in its 256 pages again; in the heap its pages are reused
    mapped, heap = page_faults("default"), page_faults("heap")
    assert mapped > 300 * 200, mapped
    assert heap < 300 * 10, heap


def test_a_hand_started_worker_is_prepared_like_a_local_one(tmp_path):
    # defined here, so that it travels to the worker by value (this module is not importable there)
    def faults_and_threads() -> tuple[int, int]:
        import resource

        import torch

        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(300):
            torch.ones(256, 512, dtype=torch.float64)
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before, torch.get_num_threads()

    with hand_started_cluster(tmp_path) as address:
        with connect(ClusterOptions(scheduler=address, timeout=60), "cpu") as (client, _):
            # the two workers of --nworkers 2 arrive one by one: connect waits until they have
            assert len(client.scheduler_info()["workers"]) == 2
            measured = client.run(faults_and_threads)
    assert len(measured) == 2
    for faults, threads in measured.values():
        assert faults < 300 * 10, faults  # the same worker without the setup faults about 77,000 times
        assert threads == max(1, usable_cores() // 2)  # two Dask threads on this host share its cores


def test_torch_threads_share_a_hosts_cores_among_its_dask_threads():
    setup = WorkerSetup(dask_threads_per_host={"10.0.0.5": 4, "10.0.0.6": 1})
    cores = usable_cores()
    assert setup.torch_threads("10.0.0.5") == max(1, cores // 4)
    assert setup.torch_threads("10.0.0.6") == cores
    assert WorkerSetup(threads=3).torch_threads("10.0.0.5") == 3


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_estimate_counts_the_work_of_the_points_still_running(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr("framework.execution.progress.time.perf_counter", clock)
    progress = ScanProgress("quiet")
    progress.start(total=4)
    clock.now += 10
    progress.point_finished("a", "done", 10.0)
    progress.task_progress("task-1", 0.5, points=1)
    progress.task_progress("task-2", 0.5, points=1)
    # 1 + 0.5 + 0.5 = 2 points' worth of work in 10 s: 2 points' worth left takes 10 s more
    # (counting finished points only would say 30 s)
    assert progress.completed() == pytest.approx(2.0)
    assert progress.estimate() == pytest.approx(10.0)
    progress.task_finished("task-1")
    progress.point_finished("b", "done", 10.0)
    assert progress.completed() == pytest.approx(2.5)


def test_a_progress_event_arriving_after_its_task_finished_is_not_counted_twice():
    progress = ScanProgress("quiet")
    progress.start(total=2)
    progress.task_progress("task-1", 0.5, points=2)
    progress.task_finished("task-1")
    progress.point_finished("a", "done", 1.0)
    progress.point_finished("b", "done", 1.0)
    progress.task_progress("task-1", 0.9, points=2)  # sent before the task ended, delivered after
    assert progress.completed() == pytest.approx(2.0)


class Recorder(ScanProgress):
    """Keeps every progress event and message the run sends."""

    def __init__(self) -> None:
        super().__init__("quiet")
        self.events: list[tuple[str, float, int]] = []
        self.phases: list[str] = []

    def task_progress(self, task: str, fraction: float, points: int) -> None:
        self.events.append((task, fraction, points))
        super().task_progress(task, fraction, points)

    def phase(self, text: str) -> None:
        self.phases.append(text)


def test_running_tasks_report_their_training_progress_to_the_client(tmp_path):
    plan = plan_file(write_pipeline(tmp_path, SLOW.replace("seed: 4", "seed: 1")))
    recorder = Recorder()
    summary = run_plan(plan, RunOptions(cluster=ClusterOptions(workers=1, threads=1), max_ensemble=1,
                                        progress="quiet"), recorder)
    assert summary.ok
    assert recorder.phases == ["starting a local Dask cluster: 1 worker x 1 torch thread",
                               "running 2 grid points in 2 tasks on 1 worker thread"]
    by_task: dict[str, list[float]] = {}
    for task, fraction, points in recorder.events:
        assert points == 1
        by_task.setdefault(task, []).append(fraction)
    assert by_task, "no progress event arrived"  # each task trains 2500 steps, about a second
    for fractions in by_task.values():
        assert all(0 < f <= 1 for f in fractions) and fractions == sorted(fractions)


def test_the_counts_shown_always_add_up_to_the_scan(tmp_path):
    """done + diverged + failed + running + pending = the points of the scan, on every frame: a
    scan of batches of 1 to 4 points driven through its events at random (a batch reports
    progress while it runs, then finishes, its points each with a status), the states kept
    here independently; and a point counts as running only while its batch runs."""
    import io
    import random
    import re

    rng = random.Random(3)
    batches = {f"b{i}": rng.randint(1, 4) for i in range(30)}
    total = sum(batches.values())
    display = ScanProgress("quiet", stream=io.StringIO())
    display.start(total)
    running: dict[str, int] = {}
    finished = 0
    waiting = list(batches)
    while waiting or running:
        if waiting and (not running or rng.random() < 0.5):
            name = waiting.pop(0)
            running[name] = batches[name]
            display.task_progress(name, rng.random(), batches[name])
        else:
            name = rng.choice(sorted(running))
            display.task_finished(name)
            for _ in range(running.pop(name)):
                display.point_finished("p", rng.choice(["done", "done", "diverged", "failed"]), 0.1)
                finished += 1
        shown = {state: int(count) for count, state in re.findall(r"(\d+) (\w+)", display._counts_text())}
        assert sum(shown.values()) == total, display._counts_text()
        assert shown.get("running", 0) == sum(running.values())
        assert sum(shown.get(s, 0) for s in ("done", "diverged", "failed")) == finished
    assert display._counts_text().split(", ")[-1] != "0 pending" and "running" not in display._counts_text()
