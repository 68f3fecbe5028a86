"""Where jobs run: a local Dask cluster sized to the machine, or an existing one by address.

Local default (docs/architecture.md, "Execution"): worker processes, one task at a time each; on
CPU as many workers as cores with one torch thread each (workers × threads never exceed the
cores: oversubscribed OpenMP spin-waits ran 10-110 times slower, docs/stack-notes.md), on GPU
one worker per device with a ``GPU`` resource so two tasks never share one by accident. The
scheduler, workers and dashboard listen on 127.0.0.1 only unless ``host`` says otherwise, and
the workers' scratch space goes to the temporary directory (never the current one).

Every worker, local or started by hand, is prepared by ``WorkerSetup`` when it joins: OpenMP's
passive wait policy, torch threads that share its host's cores among the host's Dask threads,
its GPU. A local cluster's workers also leave Ctrl-C to the client, which stops them at once
and quietly, so an interrupt prints one line.
"""
from __future__ import annotations

import importlib.util
import logging
import os
import signal
import socket
import tempfile
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import dask
from distributed import Client, LocalCluster, WorkerPlugin

from framework.execution.cluster_options import DEFAULT_TIMEOUT, LOCALHOST, ClusterError, ClusterOptions

__all__ = ["DEFAULT_TIMEOUT", "LOCALHOST", "ClusterError", "ClusterOptions", "connect", "dashboard_note", "describe",
           "local_gpus", "local_workers"]

DASHBOARD_PACKAGE = "bokeh"
QUIET_LOGGERS = ("distributed", "tornado", "asyncio", "bokeh")


def usable_cores() -> int:
    """The cores this process may run on (its affinity, which a batch system may restrict)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class WorkerSetup(WorkerPlugin):
    """Prepares a worker for overparam's tasks when it starts, and again when it restarts.

    - ``OMP_WAIT_POLICY=PASSIVE`` before torch is first imported there: OpenMP threads that
      spin while waiting slowed two busy workers on two cores severalfold (docs/stack-notes.md).
    - torch threads: ``threads`` when given; otherwise the worker's host's cores shared among
      the Dask threads on that host (``dask_threads_per_host``, counted by the client), so a
      cluster started by hand is not oversubscribed either.
    - its GPU, one per local worker, when there are ``gpus``.
    - with ``ignore_interrupt``, SIGINT is ignored: on a terminal Ctrl-C reaches every process
      of the foreground group, and the client alone should answer it.
    """

    name = "overparam-worker-setup"

    def __init__(self, threads: int | None = None, gpus: int = 0,
                 dask_threads_per_host: Mapping[str, int] | None = None, ignore_interrupt: bool = False):
        self.threads = threads
        self.gpus = gpus
        self.dask_threads_per_host = dict(dask_threads_per_host or {})
        self.ignore_interrupt = ignore_interrupt

    def torch_threads(self, host: str) -> int:
        """The torch threads a worker on ``host`` gets."""
        if self.threads:
            return self.threads
        return max(1, usable_cores() // max(1, self.dask_threads_per_host.get(host, 1)))

    def setup(self, worker: Any) -> None:
        if self.ignore_interrupt and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        keep_allocations_in_the_heap()
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import torch

        threads = self.torch_threads(host_of(worker.address))
        torch.set_num_threads(threads)
        if self.gpus and torch.cuda.is_available():
            digits = "".join(c for c in str(worker.name) if c.isdigit()) or "0"
            torch.cuda.set_device(int(digits) % torch.cuda.device_count())


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
HEAP_ALLOCATION_LIMIT = 32 * 1024**2  # the largest mmap threshold glibc accepts on 64-bit


def keep_allocations_in_the_heap() -> bool:
    """Let glibc serve allocations of up to 32 MiB from the heap, as its default does once it
    has seen them freed; returns whether it could (not glibc: nothing to do).

    Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which also freezes
    glibc's mmap threshold at 128 KiB: every tensor above it is then mapped and unmapped by
    the kernel at each allocation, and a worker started with ``dask worker`` spent half its
    time in the kernel and ran an m = 256 task about 1.7x slower than overparam's own local
    workers, which are started without that variable (docs/stack-notes.md)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, HEAP_ALLOCATION_LIMIT)) and bool(
        mallopt(M_TRIM_THRESHOLD, 2 * HEAP_ALLOCATION_LIMIT))


def host_of(address: str) -> str:
    """The host part of a Dask address: ``tcp://10.0.0.5:40123`` gives ``10.0.0.5``."""
    location = address.split("://", 1)[-1]
    return location.rsplit(":", 1)[0].strip("[]")


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
    """The line to print about the dashboard when one was asked for: its address, or why not."""
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
    if options.scheduler:
        return f"connecting to the Dask scheduler at {options.scheduler}"
    workers, threads = local_workers(options, device)
    return f"starting a local Dask cluster: {workers} worker{'s' if workers > 1 else ''} x {threads} torch " \
           f"thread{'s' if threads > 1 else ''}"


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


def settle(client: Client, quiet_for: float = 1.0, at_most: float = 3.0) -> None:
    """Wait until no worker has joined for ``quiet_for`` seconds (at most ``at_most``): the
    workers of ``dask worker --nworkers N`` arrive one by one, and their hosts' thread counts
    should include them all."""
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


MESSAGE_LOG_LENGTH = 8  # Dask's default is 1000: see ``connect``


@contextmanager
def connect(options: ClusterOptions, device: str) -> Iterator[tuple[Client, dict]]:
    """A client on the asked-for cluster, and the resources each task should request.

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
        with _connected(options, device) as connection:
            yield connection


@contextmanager
def _connected(options: ClusterOptions, device: str) -> Iterator[tuple[Client, dict]]:
    if options.scheduler:
        client = _remote(options)
        try:
            settle(client)
            workers = workers_of(client).values()
            has_gpu = any(w.get("resources", {}).get("GPU") for w in workers)
            client.register_plugin(WorkerSetup(options.threads, dask_threads_per_host=dask_threads_per_host(client)))
            yield client, ({"GPU": 1} if has_gpu and device != "cpu" else {})
        finally:
            with quiet_dask():
                client.close()
        return
    gpus = local_gpus(device)
    workers, threads = local_workers(options, device)
    # the scheduler's HTTP server starts in any case (on 8787 for None, with a warning when a
    # second cluster has it): a free port keeps two runs on one machine quiet
    dashboard = f"{options.host}:0"
    scratch = dask.config.get("temporary-directory", None) or tempfile.gettempdir()
    environ = {"OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}), _interrupts_ignored():
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host=options.host,
                               dashboard_address=dashboard, local_directory=scratch,
                               resources={"GPU": 1} if gpus else None)
        client = Client(cluster)
    try:
        client.register_plugin(WorkerSetup(threads, gpus, ignore_interrupt=True))
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
