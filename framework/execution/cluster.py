"""Where jobs run: a local Dask cluster sized to the machine, or an existing one by address.

Local default (docs/architecture.md, "Execution"): worker processes, one task at a time each; on
CPU as many workers as cores with one torch thread each (workers × threads never exceed the
cores: oversubscribed OpenMP spin-waits ran 10-110 times slower, docs/stack-notes.md), on GPU
one worker per device with a ``GPU`` resource so two tasks never share one by accident. The
scheduler, workers and dashboard listen on 127.0.0.1 only unless ``host`` says otherwise, and
the workers' scratch space goes to the temporary directory (never the current one).

Every worker, local or started by hand, is prepared by ``WorkerSetup`` when it joins
(``framework.execution.worker_setup``). A local cluster's workers also leave Ctrl-C to the
client, which stops them at once and quietly, so an interrupt prints one line.
"""
from __future__ import annotations

import importlib.util
import ipaddress
import logging
import os
import signal
import socket
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import dask
from distributed import Client, LocalCluster

from framework.execution.cluster_options import (
    DEFAULT_TIMEOUT,
    LOCALHOST,
    ClusterError,
    ClusterOptions,
    JobQueueOptions,
)
from framework.execution.worker_setup import WorkerSetup, host_of, usable_cores

__all__ = ["DEFAULT_TIMEOUT", "LOCALHOST", "ClusterError", "ClusterOptions", "connect", "dashboard_note", "describe",
           "local_gpus", "local_workers", "start_local_cluster"]

DASHBOARD_PACKAGE = "bokeh"
QUIET_LOGGERS = ("distributed", "tornado", "asyncio", "bokeh")


def local_gpus(device: str) -> int:
    """GPUs a local cluster should use: all visible ones unless the pipeline asks for the CPU."""
    if device == "cpu":
        return 0
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def local_workers(options: ClusterOptions, device: str) -> tuple[int, int]:
    """A local cluster's (worker processes, torch threads per worker): one worker per GPU, or
    as many as cores with one thread each, unless the options say otherwise."""
    gpus = local_gpus(device)
    cores = usable_cores()
    workers = options.workers or (gpus if gpus else cores)
    return workers, options.threads or max(1, cores // workers)


def dashboard_available() -> bool:
    """Whether Dask's dashboard can start: it needs bokeh (the ``dashboard`` extra)."""
    return importlib.util.find_spec(DASHBOARD_PACKAGE) is not None


def dashboard_note(options: ClusterOptions, client: Client) -> str | None:
    """The line to print about the dashboard when one was asked for: its address, or why not;
    on a batch cluster, where its scheduler listens and where the jobs write their output."""
    if options.jobqueue is not None:
        from framework.execution.jobqueue import job_queue_note

        return job_queue_note(client) + (f"; dashboard: {client.dashboard_link}" if options.dashboard else "")
    if not options.scheduler and options.client is None and not is_loopback(options.host):
        return f"scheduler at {client.scheduler.address}" + (
            f"; dashboard: {client.dashboard_link}" if options.dashboard and dashboard_available() else "")
    if not options.dashboard:
        return None
    if options.scheduler:
        link = client.dashboard_link
        return f"dashboard: {link}" if link else f"dashboard: the scheduler at {options.scheduler} serves none"
    if not dashboard_available():
        return ("dashboard: not started, bokeh is not installed "
                "(pip install 'overparam[dashboard]' or 'bokeh>=3.1'); the run goes on without it")
    return f"dashboard: {client.dashboard_link}"


def describe(options: ClusterOptions, device: str) -> str:
    """What ``connect`` is about to do, for the progress display."""
    queue = options.jobqueue
    if queue is not None:
        jobs = f"{queue.adapt[0]} to {queue.adapt[1]} jobs, adaptively" if queue.adapt else \
            f"{queue.jobs} job{'s' if queue.jobs > 1 else ''}"
        gpus = f" of {queue.gpus_per_job} GPU{'s' if queue.gpus_per_job > 1 else ''} each" if queue.gpus_per_job else ""
        return f"starting a {queue.system.upper()} cluster through dask-jobqueue: {jobs}{gpus}, {_tls_words(queue.insecure)}"
    if options.client is not None:
        return f"using the Dask cluster at {options.client.scheduler.address}"
    if options.scheduler:
        return f"connecting to the Dask scheduler at {options.scheduler}"
    workers, threads = local_workers(options, device)
    listening = "" if is_loopback(options.host) else f", listening on {options.host} {_tls_words(options.insecure)}"
    return f"starting a local Dask cluster: {workers} worker{'s' if workers > 1 else ''} x {threads} torch " \
           f"thread{'s' if threads > 1 else ''}{listening}"


def _tls_words(insecure: bool) -> str:
    """How a cluster beyond loopback talks, as the run's first line says it."""
    return ("without TLS (--insecure: anyone who reaches the scheduler can run code as you)" if insecure
            else "over TLS with certificates made for this run")


@contextmanager
def quiet_dask() -> Iterator[None]:
    """Dask's own warnings and log lines silenced (a shutdown after Ctrl-C reports nothing useful)."""
    loggers = [logging.getLogger(name) for name in QUIET_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def check_reachable(address: str, timeout: float) -> None:
    """Raise ``ClusterError`` unless a TCP connection to the scheduler's port opens within
    ``timeout`` seconds (retrying, so a scheduler that is just starting is found). Dask's own
    client would wait its full connect timeout and end with a long traceback."""
    scheme, _, location = address.rpartition("://")
    if scheme not in ("", "tcp"):
        return  # tls, ucx, ...: left to the client
    host, _, port = location.rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(f"'{address}' is not a scheduler address such as tcp://127.0.0.1:8786")
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=max(0.1, min(2.0, timeout))).close()
            return
        except OSError as error:
            if time.monotonic() >= deadline:
                reason = error.strerror or type(error).__name__
                raise ClusterError(
                    f"cannot reach the Dask scheduler at {address}: {reason.lower()} (tried TCP to {host}:{port} for "
                    f"{timeout:g} s); start one with `dask scheduler`, check the address, or pass --timeout SECONDS "
                    "to wait longer") from None
            time.sleep(0.2)


def _remote(options: ClusterOptions) -> Client:
    """A client on the scheduler at ``options.scheduler`` with at least one worker."""
    assert options.scheduler is not None
    check_reachable(options.scheduler, options.timeout)
    try:
        client = Client(options.scheduler, timeout=f"{max(options.timeout, 1):g}s")
    except OSError as error:
        raise ClusterError(f"cannot connect to the Dask scheduler at {options.scheduler}: {error}") from None
    try:
        client.wait_for_workers(1, timeout=options.timeout)
    except (TimeoutError, OSError):
        client.close()
        raise ClusterError(f"the Dask scheduler at {options.scheduler} has no workers (waited {options.timeout:g} s); "
                           f"start some with `dask worker {options.scheduler}`, or pass --timeout SECONDS to wait "
                           "longer") from None
    return client


def workers_of(client: Client) -> dict[str, dict]:
    """Every worker the scheduler knows, by address (newer Dask lists only a few unless asked)."""
    try:
        return client.scheduler_info(n_workers=-1)["workers"]
    except TypeError:  # a Dask without the argument lists them all
        return client.scheduler_info()["workers"]


def settle(client: Client, quiet_for: float = 2.0, at_most: float = 6.0) -> None:
    """Wait until no worker has joined for ``quiet_for`` seconds (at most ``at_most``): the
    workers of ``dask worker --nworkers N`` arrive one by one (more than a second apart on a
    busy machine), and their hosts' thread counts should include them all. A local cluster of
    this process has them all already (it starts its workers before its client is made): no wait."""
    if isinstance(getattr(client, "cluster", None), LocalCluster):
        return
    deadline = time.monotonic() + at_most
    count, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now = len(workers_of(client))
        if now != count:
            count, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_for:
            return
        time.sleep(0.1)


def dask_threads_per_host(client: Client) -> dict[str, int]:
    """How many tasks the cluster runs at once on each host (the sum of its workers' threads);
    a worker joining later on a host not counted here gets its host's cores for itself."""
    counts: Counter[str] = Counter()
    for address, worker in workers_of(client).items():
        counts[host_of(address)] += int(worker.get("nthreads", 1))
    return dict(counts)


def _kill_local_workers(cluster: LocalCluster) -> None:
    """End a local cluster's worker processes now: their running tasks are abandoned anyway."""
    for nanny in list(cluster.workers.values()):
        process = getattr(nanny, "process", None)
        pid = getattr(process, "pid", None)
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


@contextmanager
def _interrupts_ignored() -> Iterator[None]:
    """Ctrl-C ignored while worker processes are spawned: they inherit it, and never print a
    KeyboardInterrupt traceback of their own (only the main thread can change signal handling)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def start_local_cluster(options: ClusterOptions, device: str) -> tuple[LocalCluster, Client]:
    """A local cluster sized by ``local_workers``, and a client on it.

    Its worker processes are spawned without the caller's main script (``main_script_hidden``),
    so a plain script that calls ``overparam.run`` at its top level, with no
    ``if __name__ == "__main__":`` guard, is not run again in every worker.
    """
    gpus = local_gpus(device)
    workers, threads = local_workers(options, device)
    # the scheduler's HTTP server starts in any case (on 8787 for None, with a warning when a
    # second cluster has it): a free port keeps two runs on one machine quiet. Its dashboard
    # (bokeh's pages, 0.4 s of imports in this process) only when asked for.
    dashboard = f"{options.host}:0"
    scratch = dask.config.get("temporary-directory", None) or tempfile.gettempdir()
    environ = {"OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    security = run_security(options)
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}), _interrupts_ignored(), \
            main_script_hidden():
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host=options.host,
                               dashboard_address=dashboard, local_directory=scratch,
                               scheduler_kwargs={"dashboard": options.dashboard},
                               resources={"GPU": 1} if gpus else None, security=security,
                               protocol="tls://" if security is not None else None)
        client = Client(cluster, security=security)
    return cluster, client


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine's loopback interface, which no other machine reaches."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def run_security(options: ClusterOptions) -> Any:
    """TLS credentials made for one run (Dask's ``Security.temporary()``: a certificate and key
    held in this process's memory and handed to the workers it starts) for a local cluster
    that listens beyond the loopback interface, where anyone who reaches the scheduler could
    otherwise run code as the user; None on loopback or with ``insecure``."""
    if options.insecure or is_loopback(options.host):
        return None
    from distributed.security import Security

    return Security.temporary()


@contextmanager
def main_script_hidden() -> Iterator[None]:
    """Worker processes started inside the block do not import the caller's main script.

    Python's ``spawn`` start method runs a child's main module again when it is a script file
    (``python script.py``): a script calling ``overparam.run`` at its top level would start
    another run in every worker. overparam's workers need nothing from the main module (their
    tasks live in importable modules, and Dask sends classes defined in it by value), so its
    file is hidden from ``multiprocessing`` while they start. A notebook's or ``python -c``'s
    main module has no file, and a module run with ``-m`` is imported by name: both are left as
    they are.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or path is None or getattr(main, "__spec__", None) is not None:
        yield
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


MESSAGE_LOG_LENGTH = 8  # Dask's default is 1000: see ``connect``


@contextmanager
def connect(options: ClusterOptions, device: str, paths: Sequence[str] = ()) -> Iterator[tuple[Client, dict]]:
    """A client on the asked-for cluster, and the resources each task should request; every
    worker gets ``paths`` on its ``sys.path`` (``WorkerSetup``).

    ``options.client``, a client the caller made (the Python API's ``client=``, or its shared
    local cluster), is used as it is and left open.

    Raises ``ClusterError`` (one line: the address and what was tried) when a scheduler cannot
    be reached or has no workers. On an exception inside the block (Ctrl-C included) a local
    cluster's workers are stopped at once and the cluster closed without Dask's log lines.

    While connected, Dask keeps ``MESSAGE_LOG_LENGTH`` recent messages per connection for
    debugging (``distributed.admin.low-level-log-length``), not 1000: every batch of messages
    under 1 MB is kept, and a batch's messages hold its tasks' jobs, so the client's connection
    to the scheduler and, on a local cluster, the scheduler's to each worker (in the client's
    process) held the jobs of the last 1000 batches: 550 MB in a scan of 10^5 points.
    """
    with dask.config.set({"distributed.admin.low-level-log-length": MESSAGE_LOG_LENGTH}):
        with _connected(options, device, tuple(paths)) as connection:
            yield connection


def _existing_resources(client: Client, options: ClusterOptions, device: str, paths: tuple[str, ...]) -> dict:
    """Prepare the workers of a cluster overparam did not start; the resources tasks should ask for."""
    settle(client)
    workers = workers_of(client).values()
    has_gpu = any(w.get("resources", {}).get("GPU") for w in workers)
    client.register_plugin(WorkerSetup(options.threads, dask_threads_per_host=dask_threads_per_host(client),
                                       paths=paths))
    return {"GPU": 1} if has_gpu and device != "cpu" else {}


@contextmanager
def _connected(options: ClusterOptions, device: str, paths: tuple[str, ...]) -> Iterator[tuple[Client, dict]]:
    if options.client is not None:
        yield options.client, _existing_resources(options.client, options, device, paths)
        return
    if options.scheduler:
        client = _remote(options)
        try:
            yield client, _existing_resources(client, options, device, paths)
        finally:
            with quiet_dask():
                client.close()
        return
    if options.jobqueue is not None:
        with _job_queue_cluster(options.jobqueue, options.timeout, paths) as connection:
            yield connection
        return
    cluster, client = start_local_cluster(options, device)
    gpus = local_gpus(device)
    try:
        client.register_plugin(WorkerSetup(local_workers(options, device)[1], gpus, ignore_interrupt=True,
                                           paths=paths))
        yield client, ({"GPU": 1} if gpus else {})
    except BaseException:
        _kill_local_workers(cluster)
        raise
    finally:
        with quiet_dask():
            client.close()
            try:
                cluster.close()
            except AssertionError:  # docs/stack-notes.md: closing right after a worker restart can raise this
                pass


@contextmanager
def _job_queue_cluster(queue: JobQueueOptions, timeout: float, paths: tuple[str, ...]) -> Iterator[tuple[Client, dict]]:
    """A batch cluster for the run (``framework.execution.jobqueue``), closed at the end, which
    cancels its jobs. Every worker runs one task at a time per Dask thread with one torch
    thread, or on its own GPU."""
    from framework.execution.jobqueue import start_job_queue_cluster

    cluster, client = start_job_queue_cluster(queue, timeout)
    try:
        client.register_plugin(WorkerSetup(None if queue.gpus_per_job else 1, queue.gpus_per_job, paths=paths))
        yield client, ({"GPU": 1} if queue.gpus_per_job else {})
    finally:
        with quiet_dask():
            client.close()
            cluster.close()
