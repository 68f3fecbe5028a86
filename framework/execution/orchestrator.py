"""Running a plan: the store prepared, pending jobs grouped into tasks and the tasks into
batches, a bounded number of batches on Dask at once, results written by chunk as they finish
(docs/architecture.md, "The store", "Execution").

The client is the only writer of the store. A task that raises, or whose members diverge, is
recorded with its status and message and the scan goes on (unless ``fail_fast``); a worker
that dies is replaced and its task retried by Dask, and a task that keeps killing workers is
recorded as failed. Interrupting the client leaves a store that the next run resumes.
"""
from __future__ import annotations

import itertools
import logging
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from distributed import Client

from framework.execution.cluster import (
    QUIET_LOGGERS, ClusterError, ClusterOptions, connect, dashboard_available, dashboard_note, describe,
)
from framework.execution.ended_jobs import EndedJobs
from framework.execution.memory import refuse_if_too_large
from framework.execution.step_reporter import PROGRESS_TOPIC
from framework.execution.task import run_batch
from framework.storage.chunking import points_per_chunk
from framework.storage.deferred_interrupt import ctrl_c_deferred
from framework.contract.store_layout import Layout
from framework.plugin_system.hookspecs import HookRelay
from framework.contract.run_records import MemberResult, RunSummary
from framework.contract.store_names import Status
from framework.planning.tasks import WINDOW, Packing, batch_work, longest_first
from framework.planning.plan import Job, Plan
from framework.execution.progress import ScanProgress
from framework.storage.store import Store
from framework.storage.lock import StoreLock
from framework.storage.schema import DEFAULT_FLUSH_INTERVAL, now
from framework.storage.write_buffer import WriteBuffer

IN_FLIGHT_PER_SLOT = 2  # batches submitted per worker thread at once: one running, one waiting


@dataclass(frozen=True)
class RunOptions:
    """How to run a plan (the command line's options)."""

    cluster: ClusterOptions = field(default_factory=ClusterOptions)
    store: Path | None = None
    overwrite: bool = False
    fail_fast: bool = False
    progress: str = "auto"
    retries: int = 2
    max_ensemble: int | None = None
    tasks_per_batch: int | None = None  # None: batches of about a second of estimated work
    flush_interval: float = DEFAULT_FLUSH_INTERVAL  # seconds between two writes of finished points, at most
    check_memory: bool = True  # refuse a local scan whose memory estimate exceeds what there is
    profile: Path | None = None  # write Dask's performance report of the run here (HTML)


@contextmanager
def _profiled(client: Client, report: Path | None) -> Iterator[None]:
    """Dask's performance report of what runs inside (``distributed.performance_report``: the
    task stream, the workers' and the scheduler's profiles, bandwidth) written to ``report``."""
    if report is None:
        yield
        return
    from distributed import performance_report

    report.parent.mkdir(parents=True, exist_ok=True)
    with client.as_current(), performance_report(filename=str(report)):
        yield


def _killed_result(job: Job, exc: BaseException) -> MemberResult:
    return MemberResult(job.point.index, Status.FAILED, f"task lost: {type(exc).__name__}: {exc}", finished_at=time.time())


def run_plan(plan: Plan, options: RunOptions = RunOptions(), progress: ScanProgress | None = None, *,
             hooks: HookRelay | None = None) -> RunSummary:
    """Run every job of the plan not already done in its store; returns what happened.

    The lifecycle hooks fire here, whoever calls: ``overparam_pipeline_loaded`` first (a plugin
    may veto the run by raising), then per grid point ``overparam_job_started`` when its task
    starts on a worker and ``overparam_job_finished`` or ``overparam_job_failed`` once its
    results are written, and ``overparam_run_finished`` at the end. A local scan whose memory
    estimate exceeds what this machine has is refused (``PipelineError``) before anything
    starts, unless ``options.check_memory`` is off. The store is locked next (a busy store is
    refused before any cluster starts), then the cluster is reached, and only then is the store
    prepared, so a scheduler that cannot be reached (``ClusterError``) leaves nothing on disk.
    ``hooks`` is the relay they fire through, passed on to every part of the run that fires
    one; without it, the relay of the registry that planned ``plan`` (the plugins the
    pipeline loaded). A performance report (``options.profile``) without bokeh is refused
    (``ClusterError``) before anything starts.
    """
    if options.profile is not None and not dashboard_available():
        raise ClusterError("--profile writes Dask's performance report, which needs bokeh: pip install "
                           "'overparam[dashboard]' or 'bokeh>=3.1'")
    hooks = hooks if hooks is not None else plan.registry.hook
    layout = plan.layout
    path = options.store or plan.pipeline.store
    progress = progress if progress is not None else ScanProgress(options.progress)
    hooks.overparam_pipeline_loaded(pipeline=plan.pipeline, plan=plan)
    if options.check_memory:
        refuse_if_too_large(plan, options.cluster, options.max_ensemble)
    start = time.perf_counter()
    summary = RunSummary(path, len(plan.jobs), 0)
    try:
        with StoreLock(path), _interrupt_remembered() as interrupt:
            progress.phase(describe(options.cluster, plan.pipeline.device))
            with connect(options.cluster, plan.pipeline.device, plan.registry.module_paths) as (client, resources):
                with _profiled(client, options.profile):
                    _run_on(client, resources, plan, layout, path, options, summary, progress, start, interrupt, hooks)
    except KeyboardInterrupt:
        summary.interrupted = True
        summary.elapsed = time.perf_counter() - start
        progress.close()
    hooks.overparam_run_finished(store=str(path), summary=summary)
    return summary


@contextmanager
def _interrupt_remembered() -> Iterator[threading.Event]:
    """Ctrl-C raises KeyboardInterrupt as usual and is also remembered, so that the scan stops
    at the next finished task even where a library waiting on its own threads swallowed the
    exception (seen under load), and Dask's logging is silenced from that moment."""
    seen = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield seen
        return

    def remember(signum: int, frame: Any) -> None:
        seen.set()
        for name in QUIET_LOGGERS:  # what Dask logs while it is being stopped says nothing useful
            logging.getLogger(name).setLevel(logging.CRITICAL + 1)
        signal.default_int_handler(signum, frame)

    previous = signal.signal(signal.SIGINT, remember)
    try:
        yield seen
    finally:
        signal.signal(signal.SIGINT, previous)


def _slots(client: Client) -> int:
    """The tasks a cluster runs at once: its workers' threads."""
    return max(1, sum(client.nthreads().values()))


def _run_on(client: Client, resources: dict, plan: Plan, layout: Layout, path: Path, options: RunOptions,
            summary: RunSummary, progress: ScanProgress, start: float, interrupt: threading.Event,
            hooks: HookRelay) -> None:
    """With the store locked and the cluster reached: prepare the store, run what is pending."""
    note = dashboard_note(options.cluster, client)
    if note:
        progress.message(note, always=True)
    store = Store.prepare(path, layout, plan.pipeline, overwrite=options.overwrite)
    done = store.done_mask()
    pending = len(plan.jobs) - int(done.sum())
    summary.skipped = len(plan.jobs) - pending
    store.set_attrs(last_run_started_at=now(), finished_at="")
    if store.grown_from:
        progress.message(f"grew {path} from {store.grown_from} to {len(plan.jobs)} grid points: the pipeline adds grid "
                         "values and changes nothing else", always=True)
    if summary.skipped:
        progress.message(f"resuming {path}: skipping {summary.skipped} grid points already done, "
                         f"running {pending}")
    progress.start(pending, summary.skipped)
    finished = False  # the run got to the end: not interrupted, stopped by a failure or by an error
    try:
        if pending:
            buffer: WriteBuffer[Job] = WriteBuffer(store, points_per_chunk(~done, store.chunks), options.flush_interval)
            jobs = (plan.jobs.at(tuple(index)) for index in np.argwhere(~done)) if done.ndim else iter(plan.jobs)
            _run_jobs(plan, jobs, pending, layout, buffer, options, summary, progress, client, resources, interrupt,
                      hooks)
        finished = not summary.interrupted
    finally:
        progress.close()
        summary.elapsed = time.perf_counter() - start
        store.set_attrs(finished_at=now() if finished else "")


class _StartedJobs:
    """Fires ``overparam_job_started`` once per grid point: when its batch reports that it
    started on a worker (a Dask event, handled on the client's event thread), or, should that
    report come late, just before the batch's results are recorded."""

    def __init__(self, hooks: HookRelay):
        self.hooks = hooks
        self.waiting: dict[str, list[Job]] = {}  # batches submitted whose start was not reported yet
        self.lock = threading.Lock()

    def submitted(self, batch: str, jobs: list[Job]) -> None:
        with self.lock:
            self.waiting[batch] = jobs

    def __call__(self, batch: str) -> None:
        with self.lock:
            jobs = self.waiting.pop(batch, [])
        for job in jobs:
            self.hooks.overparam_job_started(job=job)


def _on_event(progress: ScanProgress, started: _StartedJobs, prefix: str) -> Any:
    """The handler of the workers' progress events: those of this run's batches (named
    ``prefix`` + number: several runs may share one scheduler and its event topic)."""
    def handle(event: tuple[float, dict]) -> None:
        message = event[1]
        if not str(message.get("task", "")).startswith(prefix):
            return
        if message.get("started"):
            progress.task_started(message["task"])
            started(message["task"])
        else:
            progress.task_progress(message["task"], message["fraction"], message["points"], message.get("left"))
    return handle


def _plural(count: int, word: str, words: str = "") -> str:
    return f"{count} {word if count == 1 else words or word + 's'}"


def _phase(jobs: int, batches: list[list[list[Job]]] | None, slots: int) -> str:
    """``running 2000 grid points in 2000 tasks (43 batches of them) on 2 worker threads``; a
    scan of more than ``tasks.WINDOW`` points is grouped as it runs, and says so."""
    on = f"on {_plural(slots, 'worker thread')}"
    if batches is None:
        return f"running {_plural(jobs, 'grid point')} {on}, grouped into tasks and batches {WINDOW} at a time"
    tasks = sum(len(batch) for batch in batches)
    batched = f" ({_plural(len(batches), 'batch', 'batches')} of them)" if len(batches) < tasks else ""
    return f"running {_plural(jobs, 'grid point')} in {_plural(tasks, 'task')}{batched} {on}"


def _announced(progress: ScanProgress, prefix: str, batches: Iterator[list[list[Job]]]) -> Iterator[tuple[str, list[list[Job]]]]:
    """Each batch with its name (``prefix`` + number), its estimated work (``batch_work``) told
    to the progress display as it is drawn."""
    for number, batch in enumerate(batches):
        progress.expect(f"{prefix}{number}", batch_work(batch), sum(len(task) for task in batch))
        yield f"{prefix}{number}", batch


def _run_jobs(plan: Plan, jobs: Iterator[Job], count: int, layout: Layout, buffer: WriteBuffer[Job],
              options: RunOptions, summary: RunSummary, progress: ScanProgress, client: Client, resources: dict,
              interrupt: threading.Event, hooks: HookRelay) -> None:
    """Submit the batches a few at a time, record each result as it arrives and write them by
    chunk; whatever finished is written before this returns, however it returns. The jobs come
    lazily, ``WINDOW`` at a time: the client holds the jobs of the batches in flight and of
    the results not yet written, never the whole scan's."""
    pipeline = plan.pipeline
    slots = _slots(client)
    packing = Packing(pipeline.dtype, options.max_ensemble or pipeline.max_ensemble, slots)
    stream = packing.batches(jobs, options.tasks_per_batch)
    first = longest_first(list(stream)) if count <= WINDOW else None
    progress.phase(_phase(count, first, slots))
    progress.worker_threads(slots)
    prefix = f"{uuid.uuid4().hex[:8]}-batch-"
    queue = _announced(progress, prefix, iter(first) if first is not None else stream)
    if first is not None:  # the whole scan's work is known before any of it runs
        queue = iter(list(queue))
    started = _StartedJobs(hooks)
    client.subscribe_topic(PROGRESS_TOPIC, _on_event(progress, started, prefix))
    in_flight: dict[Any, tuple[str, list[list[Job]]]] = {}
    ready = threading.Event()  # set when a batch finishes (distributed.wait with a timeout kept futures alive)

    def submit_more() -> None:  # up to the bound, never past it: it is called on every wake, finished or not
        for name, batch in itertools.islice(queue, max(0, IN_FLIGHT_PER_SLOT * slots - len(in_flight))):
            started.submitted(name, [job for task in batch for job in task])
            future = client.submit(run_batch, batch, layout, pipeline.device, pipeline.dtype, name, pure=False,
                                   retries=options.retries, resources=resources or None)
            future.add_done_callback(lambda _: ready.set())
            in_flight[future] = (name, batch)

    watch = _WorkerWatch(client, options.cluster, progress)
    try:
        submit_more()
        while in_flight:
            ready.wait(timeout=max(0.05, min(buffer.due_in(), watch.interval)))
            ready.clear()  # before looking: a batch finishing from now on sets it again
            finished = [future for future in in_flight if future.done()]
            if not finished and buffer.due_in() == 0:
                _recorded(hooks, buffer.flush())
            failure = False
            for future in finished:
                outcome = _outcome(future, watch.interval)
                if outcome is None:  # its result was lost with its worker: it runs again, or the watch ends the scan
                    continue
                name, batch = in_flight.pop(future)  # dropping the future lets the cluster free its result
                failure |= _record(plan, outcome, name, batch, buffer, summary, progress, started, hooks)
            if interrupt.is_set():
                raise KeyboardInterrupt
            watch.check()
            if options.fail_fast and failure:
                for other in in_flight:  # the ones not yet finished
                    other.cancel()
                summary.interrupted = summary.stopped_by_failure = True
                return
            submit_more()
    finally:  # no unsubscribe here: on Ctrl-C the client may be going, and the flush must happen
        _recorded(hooks, buffer.flush())


class _WorkerWatch:
    """Ends a scan that no worker will come back to (``ClusterOptions.workerless_grace``): every
    job of a batch cluster of fixed size has ended, by its walltime or by ``scancel``. On an
    adaptive batch cluster it has the cluster forget the jobs its batch system ended before
    their worker joined (``EndedJobs``), so that others replace them."""

    interval = 1.0  # seconds between two looks at the scheduler's workers (the client's cached view)

    def __init__(self, client: Client, options: ClusterOptions, progress: ScanProgress):
        self.client, self.grace, self.queue, self.progress = client, options.workerless_grace, options.jobqueue, progress
        self.ended_jobs = EndedJobs(client.cluster, self.queue.system) if self.queue and self.queue.adapt else None
        self.since: float | None = None  # when the workers were first seen gone
        self.looked = 0.0

    def check(self) -> None:
        if self.ended_jobs is not None and self.queue is not None:
            for job_id in self.ended_jobs.check():
                self.progress.message(f"{self.queue.system.upper()} job {job_id} ended before its worker joined "
                                      "(cancelled, failed, or its time ran out while it waited): submitting another")
        now = time.monotonic()
        if self.grace is None or self.queue is None or now - self.looked < self.interval:
            return
        self.looked = now
        if self.client.scheduler_info().get("workers"):
            self.since = None
            return
        self.since = self.since or now
        if now - self.since >= self.grace:
            raise ClusterError(f"every worker left the cluster and none came back within {self.grace:g} s: the "
                               f"{self.queue.jobs} {self.queue.system.upper()} jobs ended (their walltime, or scancel); "
                               "the store keeps every point done; run the same command again to resume, with a longer "
                               "walltime, or with --adapt MIN:MAX, which submits new jobs")


def _outcome(future: Any, wait: float) -> list[list[MemberResult]] | Exception | None:
    """A finished batch's results, or the exception it ended with; None when fetching them
    takes longer than ``wait`` seconds: a batch seen done whose worker then left has its result
    computed again, and waiting for that without a worker would never end (nor let the worker
    watch end the scan)."""
    try:
        return future.result(timeout=wait)
    except TimeoutError as exc:
        return exc if future.status == "error" else None  # the batch's own TimeoutError, or no result yet
    except Exception as exc:  # the batch itself was lost (a worker died too often)
        return exc


def _record(plan: Plan, outcome: list[list[MemberResult]] | Exception, name: str, batch: list[list[Job]],
            buffer: WriteBuffer[Job], summary: RunSummary, progress: ScanProgress, started: _StartedJobs,
            hooks: HookRelay) -> bool:
    """Take a finished batch's results (or the exception it ended with) into the buffer (writing
    what that completes); whether any of its points failed or diverged."""
    if isinstance(outcome, Exception):
        results = [[_killed_result(job, outcome) for job in task] for task in batch]
    else:
        results = outcome
    progress.task_finished(name, sum(len(task) for task in results))
    started(name)
    failure = False
    with ctrl_c_deferred():  # a point counted and shown is in the buffer, so the last flush writes it
        for task, task_results in zip(batch, results):
            for job, result in zip(task, task_results):
                written = buffer.add(job, result)
                summary.counts[result.status] += 1
                summary.worker_seconds.update(result.seconds)
                failure |= result.status != Status.DONE
                note = result.error if result.status != Status.DONE else ""
                progress.point_finished(job.point.label() or plan.pipeline.name, result.status, result.wall_time, note)
                _recorded(hooks, written)
    return failure


def _recorded(hooks: HookRelay, written: list[tuple[Job, MemberResult]]) -> None:
    """The lifecycle hooks of grid points whose results are now in the store."""
    for job, result in written:
        if result.status == Status.DONE:
            hooks.overparam_job_finished(job=job, result=result)
        else:
            hooks.overparam_job_failed(job=job, error=result.error)
