"""``overparam.run``, ``validate``, ``plan``, ``open`` and ``report``: a pipeline from Python.

A pipeline is a file's path, YAML text or a mapping of its keys, and ``overrides`` change any
of its keys as the command line's ``key.path=value`` arguments do (``framework.configuration.
overrides``). ``run`` uses the caller's Dask client when given one; otherwise one local cluster,
started by the first call, serves every later call of the interpreter (a fresh cluster per call
cost about 3 s) and is closed when the interpreter exits. Its workers never run the caller's
script again, so a plain script needs no ``if __name__ == "__main__":`` guard
(``framework.execution.cluster.main_script_hidden``).
"""
from __future__ import annotations

import atexit
import multiprocessing
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from framework.configuration.source import PipelineError
from framework.planning.plan import Plan, plan_file

if TYPE_CHECKING:
    import xarray as xr
    from distributed import Client, LocalCluster

    from framework.report.build import Report

PipelineInput = str | Path | Mapping[str, Any]


def plan(pipeline: PipelineInput, *, overrides: Sequence[str] = (), autoload: bool | None = None,
         blocked: Iterable[str] = ()) -> Plan:
    """The validated plan of a pipeline: its jobs (one per grid point), stages and store layout.

    Raises ``overparam.PipelineError`` listing every problem together, each naming the file (or
    ``<text>``, ``<dict>``), the line or the override, the key path and what was expected.
    ``autoload=False`` loads no third-party entry points; ``blocked`` names plugins to keep out.
    """
    return plan_file(pipeline, overrides=overrides, autoload=autoload, blocked=blocked)


def validate(pipeline: PipelineInput, *, overrides: Sequence[str] = (), autoload: bool | None = None,
             blocked: Iterable[str] = ()) -> list[str]:
    """Every problem of a pipeline, one line each, as ``overparam validate`` prints them; an
    empty list when it is valid. Nothing is computed or written."""
    try:
        plan(pipeline, overrides=overrides, autoload=autoload, blocked=blocked)
    except PipelineError as error:
        return str(error).splitlines()
    return []


def run(pipeline: PipelineInput, *, overrides: Sequence[str] = (), store: str | Path | None = None,
        client: Client | None = None, progress: str | bool = "auto", overwrite: bool = False, fail_fast: bool = False,
        max_ensemble: int | None = None, workers: int | None = None, threads: int | None = None,
        cluster: str | None = None, jobs: int | None = None, adapt: tuple[int, int] | None = None,
        cluster_options: Mapping[str, Any] | None = None, gpus_per_job: int | None = None,
        insecure: bool = False, timeout: float | None = None, autoload: bool | None = None,
        blocked: Iterable[str] = (), profile: str | Path | None = None) -> xr.Dataset:
    """Run a pipeline's scan into its zarr store and return the store, opened (``open``).

    As ``overparam run`` does: a store of the same pipeline resumes (done points are skipped)
    or grows; a store of another pipeline is refused unless ``overwrite``; a failed or diverged
    grid point is recorded in ``status`` and the scan goes on unless ``fail_fast``. ``store``
    replaces the pipeline's ``store:`` (a relative path is taken from the current directory).
    ``client`` runs it on the caller's Dask cluster; without it, on the interpreter's shared
    local cluster of ``workers`` processes of ``threads`` torch threads each (defaults from the
    cores). ``progress`` is ``auto``, ``rich``, ``plain`` or ``quiet`` (``True`` is ``auto``,
    ``False`` ``quiet``).

    ``cluster`` (``"slurm"``, ``"pbs"``, ``"sge"``, ``"lsf"``, ``"htcondor"``) runs it on a batch
    cluster started for the run, as ``overparam run --cluster`` does: ``jobs`` jobs or an
    ``adapt`` range ``(min, max)``, ``cluster_options`` over Dask's ``jobqueue.SYSTEM``
    configuration (``{"walltime": "02:00:00"}``), ``gpus_per_job``, TLS unless ``insecure``,
    ``timeout`` seconds to wait for the first job's worker. ``profile`` writes Dask's performance
    report of the run to that HTML file.

    Raises ``PipelineError`` for an invalid pipeline (nothing is computed), ``StoreError`` for a
    store it cannot use, ``ClusterError`` for a cluster it cannot start or reach, and
    ``KeyboardInterrupt`` when interrupted (the store keeps every finished point and resumes).
    """
    from framework.execution.cluster_options import ClusterOptions, wait_timeout
    from framework.execution.jobqueue import checked_job_queue
    from framework.execution.orchestrator import RunOptions, run_plan
    from framework.execution.progress import ScanProgress

    refuse_inside_worker_start()
    if isinstance(progress, bool):
        progress = "auto" if progress else "quiet"
    bounds = f"{adapt[0]}:{adapt[1]}" if adapt is not None else None
    queue = checked_job_queue(cluster, jobs, bounds, cluster_options or {}, gpus_per_job, None, insecure)
    planned = plan(pipeline, overrides=overrides, autoload=autoload, blocked=blocked)
    if client is None and queue is None:
        client = shared_client(workers, threads, planned.pipeline.device)
    cluster_choice = ClusterOptions(threads=threads, client=client, jobqueue=queue, insecure=insecure,
                                    timeout=wait_timeout(timeout, queue))
    options = RunOptions(cluster=cluster_choice,
                         store=Path(store).resolve() if store is not None else None, overwrite=overwrite,
                         fail_fast=fail_fast, progress=progress, max_ensemble=max_ensemble,
                         profile=Path(profile).resolve() if profile is not None else None)
    display = ScanProgress(progress)
    summary = run_plan(planned, options, display, hooks=planned.registry.hook)
    display.message(summary.text())
    if summary.interrupted and not summary.stopped_by_failure:
        raise KeyboardInterrupt(summary.text())
    return open(summary.store)


def open(store: str | Path, *, stage: str | None = None) -> xr.Dataset:
    """A run store as an ``xarray.Dataset`` (read lazily, as ``xr.open_zarr`` does).

    With ``stage``, one diagnostic stage's variables on that stage's own logged steps: no NaN
    rows left by other stages' schedules, a diagnostic listed in several stages taken at this
    one, and the grid points' status beside them.
    """
    from framework.storage.stage_view import open_store

    return open_store(Path(store), stage)


def report(store: str | Path, *, out: str | Path | None = None) -> Report:
    """Test every claim the store can, write report.md, report.html and the figures (into
    ``out``, by default beside the store: ``results/NAME.zarr`` -> ``results/NAME.report``);
    returns where they are (``.html_path``) and what they say (``.summary()``)."""
    from framework.report.build import build_report

    return build_report(store, out)


_SHARED: dict[tuple[Any, ...], tuple[LocalCluster, Client]] = {}
_SHARED_LOCK = threading.Lock()


def shared_client(workers: int | None, threads: int | None, device: str) -> Client:
    """The interpreter's local cluster for these sizes, started on first use and kept until exit."""
    from framework.execution.cluster import local_workers, start_local_cluster
    from framework.execution.cluster_options import ClusterOptions

    options = ClusterOptions(workers=workers, threads=threads)
    key = (*local_workers(options, device), device == "cpu")
    with _SHARED_LOCK:
        if key in _SHARED and _SHARED[key][1].status == "running":
            return _SHARED[key][1]
        cluster, client = start_local_cluster(options, device)
        if not _SHARED:
            atexit.register(close_shared_clusters)
        _SHARED[key] = (cluster, client)
        return client


def close_shared_clusters() -> None:
    """Close the interpreter's local clusters (at exit, or to free their workers earlier)."""
    from framework.execution.cluster import quiet_dask

    with _SHARED_LOCK, quiet_dask():
        for cluster, client in _SHARED.values():
            client.close()
            cluster.close()
        _SHARED.clear()


def refuse_inside_worker_start() -> None:
    """Raise one clear error where a process that ``multiprocessing`` is starting runs the
    caller's script again (a worker of a cluster started outside overparam, say, by a script
    without an ``if __name__ == "__main__":`` guard), instead of a second run of the scan."""
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise RuntimeError("overparam.run was called while a worker process was starting and importing the main "
                           "script; put the script's top-level code under `if __name__ == \"__main__\":`")
