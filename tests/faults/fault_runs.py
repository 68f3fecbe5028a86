"""Shared by the fault suite: scans started as real processes, killed, sampled and compared,
and the figures each test measured, collected for docs/faults.md.

Every scan here runs as a user runs it, ``python -m framework.cli.commands run ...`` in a process
group of its own, so that SIGKILL reaches the client and its Dask workers together.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil
import xarray as xr
import zarr

from framework.storage.store import STATUS_CODE
from scans import ROOT

FIGURES_ENV = "OVERPARAM_FAULT_FIGURES"
SLOW_ENV = "OVERPARAM_SLOW"


def full_size() -> bool:
    """Whether the slow, full-size versions run (OVERPARAM_SLOW=1), as tests/conftest.py decides."""
    return os.environ.get(SLOW_ENV) == "1"


def record(test: str, **figures: object) -> None:
    """Append one test's measured figures as a JSON line to the file named by
    OVERPARAM_FAULT_FIGURES (nothing when it is unset): the source of docs/faults.md."""
    path = os.environ.get(FIGURES_ENV)
    if path:
        with open(path, "a") as handle:
            handle.write(json.dumps({"test": test, "full_size": full_size(), **figures}) + "\n")


def start_run(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.Popen:
    """``overparam run ARGS`` in a new process group, its output captured."""
    return subprocess.Popen([sys.executable, "-m", "framework.cli.commands", "run", *args], cwd=cwd, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the process and everything it started (its Dask scheduler, nannies, workers)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.communicate()


def statuses(store: Path) -> np.ndarray | None:
    """The status codes of a store, or None while it does not exist (yet)."""
    try:
        return np.asarray(zarr.open_group(str(store), mode="r")["status"][...])
    except Exception:  # not created yet, or its template is being renamed into place
        return None


def done_count(store: Path) -> int:
    codes = statuses(store)
    return 0 if codes is None else int((codes == STATUS_CODE["done"]).sum())


def load_store(store: Path) -> xr.Dataset | None:
    """A store's whole content, or None when there is no store at that path."""
    return xr.open_zarr(str(store)).load() if store.exists() else None


def worker_processes(client_pid: int) -> list[psutil.Process]:
    """The Dask worker processes a client started (spawned multiprocessing children)."""
    try:
        children = psutil.Process(client_pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    found = []
    for child in children:
        try:
            if any("spawn" in part or "multiprocessing" in part for part in child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


@dataclass
class RssSampler:
    """Samples one process's resident memory from a thread, every ``interval`` seconds."""

    pid: int
    interval: float = 0.1
    samples: list[tuple[float, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> RssSampler:
        process = psutil.Process(self.pid)
        start = time.monotonic()

        def sample() -> None:
            while not self._stop.is_set():
                try:
                    self.samples.append((time.monotonic() - start, process.memory_info().rss))
                except psutil.NoSuchProcess:
                    return
                self._stop.wait(self.interval)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
