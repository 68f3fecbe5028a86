"""Preparing a Dask worker for overparam's tasks: threads, memory, signals, GPU, import paths.

Every worker, local or started by hand, is prepared by ``WorkerSetup`` when it joins: OpenMP's
passive wait policy, torch threads that share its host's cores among the host's Dask threads,
its GPU, the folders of plugin modules found beside a pipeline file.
"""
from __future__ import annotations

import os
import re
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from distributed import WorkerPlugin
from distributed.core import Status

from framework.execution.process_exit import exit_without_collecting


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
    - its GPU when there are ``gpus``: one per worker of a machine or batch job (``worker_rank``).
    - with ``ignore_interrupt``, SIGINT is ignored: on a terminal Ctrl-C reaches every process
      of the foreground group, and the client alone should answer it.
    - ``paths`` put on ``sys.path``: the folders of plugin modules found beside a pipeline file,
      whose classes the tasks carry by name.
    """

    name = "overparam-worker-setup"

    def __init__(self, threads: int | None = None, gpus: int = 0,
                 dask_threads_per_host: Mapping[str, int] | None = None, ignore_interrupt: bool = False,
                 paths: Sequence[str] = ()):
        self.threads = threads
        self.gpus = gpus
        self.dask_threads_per_host = dict(dask_threads_per_host or {})
        self.ignore_interrupt = ignore_interrupt
        self.paths = tuple(paths)

    def torch_threads(self, host: str) -> int:
        """The torch threads a worker on ``host`` gets."""
        if self.threads:
            return self.threads
        return max(1, usable_cores() // max(1, self.dask_threads_per_host.get(host, 1)))

    def setup(self, worker: Any) -> None:
        if self.ignore_interrupt and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        keep_allocations_in_the_heap()
        sys.path[:0] = [path for path in self.paths if path not in sys.path]
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import torch

        threads = self.torch_threads(host_of(worker.address))
        torch.set_num_threads(threads)
        if self.gpus and torch.cuda.is_available():
            torch.cuda.set_device(worker_rank(worker.name) % torch.cuda.device_count())

    def teardown(self, worker: Any) -> None:
        """A worker closing in a process of its own (a nanny's, which ends with it) lets that
        process exit without collecting (``exit_without_collecting``). The plugin is also torn
        down when a later run registers its own on the same workers, which go on running."""
        if worker.status == Status.closing and worker.nanny is not None:
            exit_without_collecting()


def worker_rank(name: object) -> int:
    """A worker's place among the workers of its machine or job: a local worker's name is its
    number (0, 1, ...), a batch job's workers end in ``-0``, ``-1``, ...: the last number."""
    numbers = re.findall(r"\d+", str(name))
    return int(numbers[-1]) if numbers else 0


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
