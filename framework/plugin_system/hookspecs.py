"""Every hook a plugin can implement: the whole plugin API in one file.

Hook names start with ``overparam_``; pluggy calls them with keyword arguments. A plugin is
any module or object with ``@hookimpl`` functions (``from framework import hookimpl``). The
registration hooks are called once when a plugin manager is built, on the client and on every
Dask worker; the lifecycle hooks are called on the client only.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from framework.contract.components import Generator, Initializer, Optimizer

PROJECT = "overparam"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def overparam_register_generators() -> list[type[Generator]]:
    """Return the generator classes (data sets) this plugin provides."""


@hookspec
def overparam_register_initializers() -> list[type[Initializer]]:
    """Return the initializer classes (weights W, A, B) this plugin provides."""


@hookspec
def overparam_register_optimizers() -> list[type[Optimizer]]:
    """Return the optimizer classes (update rules) this plugin provides."""


@hookspec
def overparam_register_diagnostics() -> list[type[Any]]:
    """Return the diagnostic classes (``framework.Diagnostic`` subclasses) this plugin provides."""


@hookspec
def overparam_pipeline_loaded(pipeline: Any) -> None:
    """Called on the client after a pipeline file is parsed and validated, before any job runs.

    ``pipeline`` is the validated pipeline object; a plugin may inspect it (and raise to veto).
    """


@hookspec
def overparam_job_started(job: Any) -> None:
    """Called on the client when a job (one task, one or more grid points) is submitted."""


@hookspec
def overparam_job_finished(job: Any, result: Any) -> None:
    """Called on the client after a job's results are written to the store."""


@hookspec
def overparam_job_failed(job: Any, error: str) -> None:
    """Called on the client when a job raised or diverged; ``error`` is the recorded message."""


@hookspec
def overparam_run_finished(store: str, summary: Any) -> None:
    """Called on the client when a run ends; ``summary`` counts done, failed and diverged points."""
