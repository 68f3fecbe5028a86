"""Where jobs run: a local Dask cluster sized to the machine, or an existing one by address.

Local default (docs/architecture.md, "Execution"): worker processes, one task at a time each; on CPU as many workers
as cores with one torch thread each (workers × threads never exceed the cores: oversubscribed
OpenMP spin-waits ran 10-110 times slower, docs/stack-notes.md), on GPU one worker per device with a
``GPU`` resource so two tasks never share one by accident. The scheduler, workers and
dashboard listen on 127.0.0.1 only unless ``host`` says otherwise, and the workers' scratch
space goes to the temporary directory (never the current one).
"""
from __future__ import annotations

import importlib.util
import os
import tempfile
from contextlib import contextmanager
from collections.abc import Iterator
from dataclasses import dataclass

import dask
import torch
from distributed import Client, LocalCluster, WorkerPlugin


LOCALHOST = "127.0.0.1"
DASHBOARD_PACKAGE = "bokeh"


@dataclass(frozen=True)
class ClusterOptions:
    """How to get workers: ``scheduler`` (an address) or a local cluster of ``workers`` ×
    ``threads`` (defaults from the cores or GPUs) listening on ``host``; ``dashboard`` starts
    Dask's dashboard on the same interface."""

    scheduler: str | None = None
    workers: int | None = None
    threads: int | None = None
    dashboard: bool = False
    host: str = LOCALHOST


class TorchSetup(WorkerPlugin):
    """Sets each worker's torch threads, and its GPU when it has one (run at worker start)."""

    name = "overparam-torch-setup"

    def __init__(self, threads: int | None, gpus: int = 0):
        self.threads = threads
        self.gpus = gpus

    def setup(self, worker) -> None:
        if self.threads:
            torch.set_num_threads(self.threads)
        if self.gpus and torch.cuda.is_available():
            digits = "".join(c for c in str(worker.name) if c.isdigit()) or "0"
            torch.cuda.set_device(int(digits) % torch.cuda.device_count())


def local_gpus(device: str) -> int:
    """GPUs a local cluster should use: all visible ones unless the pipeline asks for the CPU."""
    if device == "cpu" or not torch.cuda.is_available():
        return 0
    return torch.cuda.device_count()


def local_workers(options: ClusterOptions, device: str) -> tuple[int, int]:
    """A local cluster's (worker processes, torch threads per worker): one worker per GPU, or
    as many as cores with one thread each, unless the options say otherwise."""
    gpus = local_gpus(device)
    cores = os.cpu_count() or 1
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


@contextmanager
def connect(options: ClusterOptions, device: str) -> Iterator[tuple[Client, dict]]:
    """A client on the asked-for cluster, and the resources each task should request."""
    if options.scheduler:
        client = Client(options.scheduler, timeout="20s")
        try:
            client.wait_for_workers(1, timeout=60)
            workers = client.scheduler_info()["workers"].values()
            has_gpu = any(w.get("resources", {}).get("GPU") for w in workers)
            if options.threads:
                client.register_plugin(TorchSetup(options.threads))
            yield client, ({"GPU": 1} if has_gpu and device != "cpu" else {})
        finally:
            client.close()
        return
    gpus = local_gpus(device)
    workers, threads = local_workers(options, device)
    dashboard = f"{options.host}:0" if options.dashboard and dashboard_available() else None
    scratch = dask.config.get("temporary-directory", None) or tempfile.gettempdir()
    environ = {"OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host=options.host,
                               dashboard_address=dashboard, local_directory=scratch,
                               resources={"GPU": 1} if gpus else None)
    client = Client(cluster)
    try:
        client.register_plugin(TorchSetup(threads, gpus))
        yield client, ({"GPU": 1} if gpus else {})
    finally:
        client.close()
        try:
            cluster.close()
        except AssertionError:  # docs/stack-notes.md: closing right after a worker restart can raise this
            pass
