"""The lifecycle hooks fire from ``run_plan`` itself, once per the event each names, for a
program that calls it as much as for the command line (framework/plugin_system/hookspecs.py)."""
from __future__ import annotations

import threading

from overparam import hookimpl
from framework.execution.cluster_options import ClusterOptions
from framework.execution.orchestrator import RunOptions, run_plan
from framework.contract.run_records import GridPointRecord, JobRecord, PipelineRecord, PlanRecord
from framework.planning.plan import plan_file
from scans import write_pipeline

PIPELINE = """\
name: hooks
grid:
  m: [16, 24]
  seed: 3
stages:
  data: {plugin: separable, params: {n: 4, L: 3, d_x: 4, d: 2, delta: 0.2}}
  init: {plugin: paper, params: {m: "${grid.m}"}}
  train: {plugin: gd, params: {steps: 8, lr: 0.05/m}, needs: [data, init]}
  watch: {plugins: [loss], schedule: {every: 4}, needs: [train]}
store: hooks.zarr
"""


class Recorder:
    """A plugin object recording every lifecycle event with what it was given."""

    def __init__(self):
        self.events: list[tuple] = []
        self.lock = threading.Lock()  # job_started may come from Dask's event thread

    def add(self, *event):
        with self.lock:
            self.events.append(event)

    @hookimpl
    def overparam_pipeline_loaded(self, pipeline, plan):
        self.add("loaded", pipeline, plan)

    @hookimpl
    def overparam_job_started(self, job):
        self.add("started", job.point.index)
        self.add("shapes", isinstance(job, JobRecord) and isinstance(job.point, GridPointRecord))

    @hookimpl
    def overparam_job_finished(self, job, result):
        self.add("finished", job.point.index, result.status)

    @hookimpl
    def overparam_job_failed(self, job, error):
        self.add("failed", job.point.index, error)

    @hookimpl
    def overparam_run_finished(self, store, summary):
        self.add("run_finished", store, summary.counts["done"])


def test_a_program_calling_run_plan_gets_every_hook_once_per_event(tmp_path, dask_client):
    plan = plan_file(write_pipeline(tmp_path, PIPELINE))
    recorder = Recorder()
    plan.registry.pm.register(recorder, name="recorder")
    summary = run_plan(plan, RunOptions(cluster=ClusterOptions(client=dask_client), progress="quiet"))
    assert summary.ok
    assert all(e[1] for e in recorder.events if e[0] == "shapes")  # every job has what the hook's protocol names
    assert isinstance(plan, PlanRecord) and isinstance(plan.pipeline, PipelineRecord)
    recorder.events = [e for e in recorder.events if e[0] != "shapes"]
    kinds = [event[0] for event in recorder.events]
    points = sorted(tuple(job.point.index) for job in plan.jobs)
    assert kinds[0] == "loaded" and recorder.events[0][1] is plan.pipeline and recorder.events[0][2] is plan
    assert kinds[-1] == "run_finished" and recorder.events[-1][2] == len(points)
    assert kinds.count("loaded") == 1 and kinds.count("run_finished") == 1
    started = [tuple(e[1]) for e in recorder.events if e[0] == "started"]
    finished = [tuple(e[1]) for e in recorder.events if e[0] == "finished"]
    assert sorted(started) == points and sorted(finished) == points  # once per grid point each
    for point in points:  # a point starts before it finishes
        first_start = next(i for i, e in enumerate(recorder.events) if e[0] == "started" and tuple(e[1]) == point)
        its_finish = next(i for i, e in enumerate(recorder.events) if e[0] == "finished" and tuple(e[1]) == point)
        assert first_start < its_finish


def test_a_resumed_run_starts_only_what_was_not_done(tmp_path, dask_client):
    plan = plan_file(write_pipeline(tmp_path, PIPELINE))
    run_plan(plan, RunOptions(cluster=ClusterOptions(client=dask_client), progress="quiet"))
    again = plan_file(tmp_path / "pipeline.yaml")
    recorder = Recorder()
    again.registry.pm.register(recorder, name="recorder")
    run_plan(again, RunOptions(cluster=ClusterOptions(client=dask_client), progress="quiet"))
    assert [e[0] for e in recorder.events] == ["loaded", "run_finished"]
