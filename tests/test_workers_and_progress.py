"""Workers as overparam prepares them, local or started by hand, and the progress they report:
allocations kept in the heap (Dask's MALLOC_TRIM_THRESHOLD_ otherwise maps every tensor),
torch threads that share the host's cores, and training progress that moves the estimate."""
from __future__ import annotations

import math
import subprocess
import time
import sys
from pathlib import Path

import pytest
import torch

from framework.execution.cluster import ClusterOptions, WorkerSetup, connect, usable_cores
from framework.execution.orchestrator import RunOptions, run_plan
from framework.planning.plan import plan_file
from framework.execution.progress import ScanProgress
from framework.execution.step_reporter import StepReporter
from framework.execution.time_left import TimeLeft
from framework.execution.training import train
from framework.plugin_system.ensemble_check import example_problem, example_weights
from overparam import ProblemShape, hookimpl
from overparam.engine import Elman
from plugins.optimizers import GradientDescent
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


def test_a_closing_worker_process_exits_without_collecting_and_a_running_one_keeps_collecting(tmp_path):
    """A local worker's process, closing, freezes its objects out of the collector (gc.freeze:
    CPython's shutdown collections over torch's objects took 0.5 s of every worker's exit); a
    worker whose setup is replaced by a later run's (the Python API's shared cluster) goes on
    running and freezes nothing. Seen by a plugin torn down after the setup."""
    import gc

    from distributed import WorkerPlugin

    class FreezeSeen(WorkerPlugin):  # defined here, so that it travels to the worker by value
        name = "freeze-seen"

        def __init__(self, folder: str):
            self.folder = folder

        def teardown(self, worker) -> None:
            import gc
            import os

            (Path(self.folder) / str(os.getpid())).write_text(str(gc.get_freeze_count()))

    with connect(ClusterOptions(workers=1, threads=1), "cpu") as (client, _):
        client.register_plugin(WorkerSetup(1))  # another run's setup replaces the first
        assert list(client.run(gc.get_freeze_count).values()) == [0]
        client.register_plugin(FreezeSeen(str(tmp_path)))
    [seen] = tmp_path.iterdir()
    assert int(seen.read_text()) > 10_000  # torch alone makes about 10^5 objects


def test_a_command_exits_without_collecting():
    """The ``overparam`` command freezes its objects before its process exits, seen from an exit
    handler (which runs before the shutdown collections): 0.8 s less at the end of a scan."""
    script = ("import atexit, gc, sys\n"
              "atexit.register(lambda: print('frozen', gc.get_freeze_count()))\n"
              "sys.argv = ['overparam', '--version']\n"
              "from framework.cli import main\n"
              "main()\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    assert "overparam" in done.stdout and int(done.stdout.split("frozen")[1]) > 1000, done.stdout


def test_torch_threads_share_a_hosts_cores_among_its_dask_threads():
    setup = WorkerSetup(dask_threads_per_host={"10.0.0.5": 4, "10.0.0.6": 1})
    cores = usable_cores()
    assert setup.torch_threads("10.0.0.5") == max(1, cores // 4)
    assert setup.torch_threads("10.0.0.6") == cores
    assert WorkerSetup(threads=3).torch_threads("10.0.0.5") == 3


def test_the_estimate_weighs_points_by_their_work_and_ends_with_the_longest_task():
    """Two threads at one unit of work a second: one runs a task of 10 units from t = 0, the
    other four tasks of 1 unit, one after another. At t = 4 the small ones are done and the big
    one is at 0.4: 6 s are left (its remaining work), where counting points (4.4 of 5 done in
    4 s) would say 0.4 s. A fifth of the points not yet announced costs the announced mean."""
    estimate = TimeLeft(points=5, slots=2)
    estimate.expect("big", 10.0, 1)
    for k in range(4):
        estimate.expect(f"small-{k}", 1.0, 1)
    estimate.started("big", 0.0)
    for k in range(4):
        estimate.started(f"small-{k}", float(k))
        estimate.progress(f"small-{k}", 0.5, 1, k + 0.5)
        estimate.finished(f"small-{k}", k + 1.0)
    estimate.progress("big", 0.4, 1, 4.0)
    true_left = 10.0 - 4.0
    assert estimate.seconds(4.0) == pytest.approx(true_left, rel=1e-12)
    assert estimate.running_points() == (1, pytest.approx(0.4))
    # ten points, five announced (14 units): the other five cost 14/5 each, spread over both threads
    wider = TimeLeft(points=10, slots=2)
    for name, work in (("a", 10.0), ("b", 1.0), ("c", 1.0), ("d", 1.0), ("e", 1.0)):
        wider.expect(name, work, 1)
    wider.started("a", 0.0)
    wider.progress("a", 0.1, 1, 1.0)
    unannounced = 5 * 14 / 5
    assert wider.seconds(1.0) == pytest.approx((14 + unannounced - 1.0) / 2, rel=1e-12)


def test_a_tasks_first_report_does_not_slow_the_rate_that_prices_the_others():
    """A task whose first report comes after its setup and first logged step (3% of its work
    after 7 s, the quick start's widest batch on a slow day) is not yet paced: counted in the
    plain rate, it priced the others, and itself, twice too slow (+104% in a trace)."""
    estimate = TimeLeft(points=6, slots=2)
    estimate.expect("narrow", 25.8, 3)
    estimate.expect("wide", 96.2, 3)
    estimate.started("narrow", 0.0)
    estimate.started("wide", 0.0)
    estimate.progress("narrow", 0.8, 3, 8.0, 2.0)  # 20.64 units of work in 8 s
    rate = 8.0 / (0.8 * 25.8)
    before = estimate.seconds(8.0)
    assert before == pytest.approx(96.2 * rate, rel=1e-12)  # the wide one, not started as far as its pace goes
    estimate.progress("wide", 0.03, 3, 8.0, 220.0)
    assert estimate.seconds(8.0) == pytest.approx(0.97 * 96.2 * rate, rel=1e-12)


def run_for_a_second(estimate: TimeLeft, task: str) -> None:
    """``task`` starts at t = 0, reports half of its time behind it at 0.5 s and finishes at 1 s."""
    estimate.started(task, 0.0)
    estimate.progress(task, 0.5, 1, 0.5)
    estimate.finished(task, 1.0)


def test_once_tasks_of_different_work_have_finished_time_left_follows_their_power_law():
    """Tasks whose seconds grow as the square root of their estimated work (as wide networks beat
    a count of products): after tasks of work 1 and 4 took 1 s and 2 s, a task of work 16 left
    will take 4 s, where one rate (5 units in 3 s) would say 9.6 s."""
    estimate = TimeLeft(points=3, slots=1)
    for name, work in (("small", 1.0), ("medium", 4.0), ("large", 16.0)):
        estimate.expect(name, work, 1)
    run_for_a_second(estimate, "small")
    assert estimate.seconds(1.0) == pytest.approx(20.0, rel=1e-12)  # one timed task: the rate, 1 unit a second
    estimate.started("medium", 1.0)
    estimate.progress("medium", 0.5, 1, 2.0)
    estimate.finished("medium", 3.0)
    assert estimate.seconds(3.0) == pytest.approx(16.0 ** 0.5, rel=1e-9)
    estimate.started("large", 3.0)
    estimate.progress("large", 0.25, 1, 4.0)
    assert estimate.seconds(4.0) == pytest.approx(0.75 * 4.0, rel=1e-9)


def test_a_running_task_past_a_tenth_of_its_time_is_priced_by_its_own_pace():
    """A task estimated at 10 units (10 s at the rate measured so far) whose worker reports half
    its time behind it after 2 s has 2 s left, whatever its estimate; with no report since, 1.5 s
    half a second later. Before a tenth of its time is behind it, its estimate prices it, and
    while no task is that far nor finished, the time left is unknown (its setup is no pace)."""
    fresh = TimeLeft(points=1)
    fresh.expect("only", 1.0, 1)
    fresh.started("only", 0.0)
    fresh.progress("only", 0.05, 1, 1.0)
    assert math.isnan(fresh.seconds(1.0))
    fresh.progress("only", 0.1, 1, 2.0)
    assert fresh.seconds(2.0) == pytest.approx(18.0, rel=1e-12)
    estimate = TimeLeft(points=2, slots=2)
    estimate.expect("timed", 1.0, 1)
    estimate.expect("big", 10.0, 1)
    run_for_a_second(estimate, "timed")
    estimate.started("big", 1.0)
    estimate.progress("big", 0.05, 1, 1.5)
    assert estimate.seconds(1.5) == pytest.approx(0.95 * 10.0, rel=1e-12)
    estimate.progress("big", 0.5, 1, 3.0)
    assert estimate.seconds(3.0) == pytest.approx(2.0, rel=1e-12)
    assert estimate.seconds(3.5) == pytest.approx(1.5, rel=1e-12)


def test_a_running_task_whose_worker_says_its_time_left_is_priced_by_that_not_by_a_stalled_fraction():
    """The fraction a worker sends never goes back (it draws the bar), so when its prediction of
    the time left grows (a part of the task that costs more than the first measures), the same
    fraction comes again and again: read as pace, 0.5 after 2 s and still 0.5 after 4 s would
    say 4 s left. The worker's own prediction (3 s at t = 4) prices the task instead, less the
    time since it came."""
    estimate = TimeLeft(points=1)
    estimate.expect("task", 1.0, 1)
    estimate.started("task", 0.0)
    estimate.progress("task", 0.5, 1, 2.0, left=2.0)
    assert estimate.seconds(2.0) == pytest.approx(2.0, rel=1e-12)
    estimate.progress("task", 0.5, 1, 4.0, left=3.0)
    assert estimate.seconds(4.0) == pytest.approx(3.0, rel=1e-12)
    assert estimate.seconds(5.0) == pytest.approx(2.0, rel=1e-12)


def test_running_tasks_projected_from_their_pace_fit_the_power_law_for_the_tasks_not_started():
    """Seconds = √work: a finished task of work 1 took 1 s, a running one of work 16 is at a
    quarter of its time after 1 s (4 s projected); a waiting task of work 4 will take 2 s,
    where one rate (5 units in 2 s) would say 1.6 s."""
    estimate = TimeLeft(points=3, slots=1)
    for name, work in (("small", 1.0), ("large", 16.0), ("waiting", 4.0)):
        estimate.expect(name, work, 1)
    run_for_a_second(estimate, "small")
    estimate.started("large", 1.0)
    estimate.progress("large", 0.25, 1, 2.0)
    assert estimate.seconds(2.0) == pytest.approx(3.0 + 2.0, rel=1e-9)
    estimate.started("waiting", 2.0)
    estimate.progress("waiting", 0.01, 1, 2.1)  # too little behind it: still priced by the law
    assert estimate.seconds(2.1) == pytest.approx(2.9 + 0.99 * 2.0, rel=1e-9)


def test_a_batch_prices_each_logged_step_by_the_diagnostics_due_at_it():
    """A dense, cheap diagnostic at every logged step beside a sparse one that takes 0.3 s, due
    at steps 0, 4 and 16 (both ends of its schedule). Just before step 4, with one 0.3 s
    measurement behind it among five logged steps, the batch says at least 0.6 s are left (two
    more of it), where one mean over the logged steps would say about 0.12 s; just before step
    16, with every training step done (a count of steps would say 1.0), at least 0.3 s, and its
    fraction is at most the time spent over the time spent and 0.3 s."""
    shape = ProblemShape(n=3, L=3, m=8, d_x=3, d=2, layers=3)
    schedule, sparse = [0, 1, 2, 3, 4, 8, 16], {0, 4, 16}
    due = [frozenset({"watch.loss", "geometry.chain_norms"} if step in sparse else {"watch.loss"}) for step in schedule]
    seen: dict[int, tuple[float, float, float]] = {}

    def measure(step: int, *_: object) -> None:
        if step in (4, 16):
            left = reporter.seconds_left()
            seen[step] = left, reporter.fraction(left), time.perf_counter() - reporter.began
        if step in sparse:
            time.sleep(0.3)

    reporter = StepReporter(None, 1, [(schedule[-1], due)])
    on_log, on_step = reporter.training(measure)
    rule = GradientDescent()
    train(rule, rule.Params(steps=schedule[-1], lr=0.01), example_weights(1, shape), example_problem(1, shape),
          torch.tensor([0.01], dtype=torch.float64), [1], schedule, Elman(), on_log=on_log, on_step=on_step)
    assert seen[4][0] >= 0.6
    left, fraction, spent = seen[16]
    assert left >= 0.3
    assert fraction <= spent / (spent + 0.3) + 1e-9


def test_a_logged_step_not_yet_measured_is_priced_by_its_tightest_measured_bound():
    """The quick start's schedule in small: the first logged step has every diagnostic due (0.3 s,
    the chain norms among them), the second the dense ones and two geometry diagnostics (0.05 s);
    two later logged steps have the two geometry diagnostics alone, the last every diagnostic
    again. Their bound is the second step's set, which holds them: about 2 x 0.05 + 0.3 s are left
    of the logged steps, where pricing them by the first step (as dear, and sharing as many)
    would say 3 x 0.3 s."""
    every = frozenset({"watch.loss", "geometry.separability", "geometry.chain_norms"})
    dense = frozenset({"watch.loss", "geometry.separability"})
    sparse = frozenset({"geometry.separability"})
    due = [every, dense, sparse, sparse, every]
    costs = {0: 0.3, 1: 0.05}
    reporter = StepReporter(None, 1, [(4, due)])
    on_log, on_step = reporter.training(lambda step, *_: time.sleep(costs[step]))
    on_log(0)
    on_step(1, 4)
    on_log(1)
    left = reporter.seconds_left()
    assert 0.3 + 2 * 0.05 <= left <= 0.3 + 2 * 0.05 + 0.1


def test_a_batch_prices_setups_and_first_steps_apart_from_the_steps_they_precede():
    """Two trainings of 100 steps each, logged at both ends. The first has taken 0.2 s of setup
    before its first logged step, 0.2 s for its first step (which builds what later steps
    reuse) and 2 ms for each of 19 more: left are 80 steps of 2 ms, and the second training's
    setup, first step and 99 steps, about 0.76 s in all. One mean over the steps would take the
    setup and the first step for 20 ms a step and say about 4 s."""
    due = [frozenset({"watch.loss"})] * 2
    reporter = StepReporter(None, 1, [(100, due), (100, due)])
    on_log, on_step = reporter.training(lambda *_: None)
    time.sleep(0.2)
    on_log(0)
    time.sleep(0.2)
    on_step(1, 100)
    for step in range(2, 21):
        time.sleep(0.002)
        on_step(step, 100)
    expected = 80 * 0.002 + 0.2 + 0.2 + 99 * 0.002
    assert expected - 0.05 <= reporter.seconds_left() <= expected * 1.5


def test_a_progress_event_arriving_after_its_task_finished_is_not_counted_twice():
    progress = ScanProgress("quiet")
    progress.start(total=2)
    progress.task_progress("task-1", 0.5, points=2)
    progress.task_finished("task-1", 2)
    progress.point_finished("a", "done", 1.0)
    progress.point_finished("b", "done", 1.0)
    progress.task_progress("task-1", 0.9, points=2)  # sent before the task ended, delivered after
    assert progress.completed() == pytest.approx(2.0)


def test_a_finished_batchs_points_never_fall_back_while_they_are_counted():
    """Between a batch's end and the last of its points counted, a frame (drawn by a progress
    event on the client's event-loop thread) shows them running, and the bar's length never
    falls below what it showed: the trace once went 9.49/12, then 6.51/12."""
    progress = ScanProgress("quiet")
    progress.start(total=4)
    progress.task_progress("batch", 0.9, points=3)
    frames = [(progress.completed(), progress._counts_text())]
    progress.task_finished("batch", 3)
    for label in ("a", "b", "c"):
        frames.append((progress.completed(), progress._counts_text()))
        progress.point_finished(label, "done", 1.0)
    frames.append((progress.completed(), progress._counts_text()))
    assert [round(length, 9) for length, _ in frames] == [2.7, 3.0, 3.0, 3.0, 3.0]
    assert [text for _, text in frames] == ["3 running, 1 pending", "3 running, 1 pending", "1 done, 2 running, 1 pending",
                                            "2 done, 1 running, 1 pending", "3 done, 1 pending"]


class Recorder(ScanProgress):
    """Keeps every progress event and message the run sends."""

    def __init__(self) -> None:
        super().__init__("quiet")
        self.events: list[tuple[str, float, int]] = []
        self.predicted: list[float | None] = []
        self.phases: list[str] = []

    def task_progress(self, task: str, fraction: float, points: int, left: float | None = None) -> None:
        self.events.append((task, fraction, points))
        self.predicted.append(left)
        super().task_progress(task, fraction, points, left)

    def phase(self, text: str) -> None:
        self.phases.append(text)


class StartOrder:
    """A plugin object keeping the width of each job as it starts."""

    def __init__(self) -> None:
        self.widths: list[int] = []

    @hookimpl
    def overparam_job_started(self, job):
        self.widths.append(job.point.values["m"])


def test_running_tasks_report_their_training_progress_to_the_client(tmp_path):
    """On one worker thread, the wider of two points (grid order: 96, then 128) starts first:
    the longest batches go first, so a scan does not end on one started last."""
    plan = plan_file(write_pipeline(tmp_path, SLOW.replace("seed: 4", "seed: 1")))
    recorder, order = Recorder(), StartOrder()
    plan.registry.pm.register(order, name="start-order")
    summary = run_plan(plan, RunOptions(cluster=ClusterOptions(workers=1, threads=1), max_ensemble=1,
                                        progress="quiet"), recorder)
    assert summary.ok
    assert order.widths == [128, 96]
    assert recorder.phases == ["starting a local Dask cluster: 1 worker x 1 torch thread",
                               "running 2 grid points in 2 tasks on 1 worker thread"]
    by_task: dict[str, list[float]] = {}
    for task, fraction, points in recorder.events:
        assert points == 1
        by_task.setdefault(task, []).append(fraction)
    assert by_task, "no progress event arrived"  # each task trains 2500 steps, about a second
    for fractions in by_task.values():
        assert all(0 < f <= 1 for f in fractions) and fractions == sorted(fractions)
    assert all(left is not None and left >= 0 for left in recorder.predicted)  # each event says its time left


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
            display.task_finished(name, running[name])
            for _ in range(running.pop(name)):
                display.point_finished("p", rng.choice(["done", "done", "diverged", "failed"]), 0.1)
                finished += 1
        shown = {state: int(count) for count, state in re.findall(r"(\d+) (\w+)", display._counts_text())}
        assert sum(shown.values()) == total, display._counts_text()
        assert shown.get("running", 0) == sum(running.values())
        assert sum(shown.get(s, 0) for s in ("done", "diverged", "failed")) == finished
    assert display._counts_text().split(", ")[-1] != "0 pending" and "running" not in display._counts_text()
