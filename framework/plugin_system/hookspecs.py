"""Every hook a plugin can implement: the whole plugin API in one file.

Hook names start with ``overparam_``; pluggy calls them with keyword arguments, and an
implementation may take any subset of a hook's arguments. A plugin is any module or object with
``@hookimpl`` functions (``from framework import hookimpl``).

The registration hooks are called once per ``Registry`` (plugin manager), when it is built: on
the client, by planning (``overparam validate``, ``plan``, ``run``) and by ``overparam plugins``.
No registry is built on a Dask worker: the classes they return travel to the workers inside
the plan's jobs. The lifecycle hooks are called on the client by ``run_plan``, whoever calls
it (the command line or a program), once per event each names.

The types named below live in layers above this one; they are imported for type checkers
only (tests/test_layers.py allows this module that exception).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from framework.configuration.pipeline import Pipeline
    from framework.contract.claim import Claim
    from framework.contract.components import Generator, Initializer, Optimizer
    from framework.contract.diagnostic import Diagnostic
    from framework.contract.model import Model
    from framework.execution.orchestrator import RunSummary
    from framework.planning.plan import Job, Plan
    from framework.storage.layout import MemberResult

PROJECT = "overparam"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def overparam_register_generators() -> list[type[Generator]]:
    """Return the generator classes (data sets) this plugin provides."""


@hookspec
def overparam_register_models() -> list[type[Model]]:
    """Return the model classes (networks, ``overparam.Model`` subclasses) this plugin provides."""


@hookspec
def overparam_register_initializers() -> list[type[Initializer]]:
    """Return the initializer classes (weights W, A, B) this plugin provides."""


@hookspec
def overparam_register_optimizers() -> list[type[Optimizer]]:
    """Return the optimizer classes (update rules) this plugin provides."""


@hookspec
def overparam_register_diagnostics() -> list[type[Diagnostic]]:
    """Return the diagnostic classes (``overparam.Diagnostic`` subclasses) this plugin provides."""


@hookspec
def overparam_pipeline_loaded(pipeline: Pipeline, plan: Plan) -> None:
    """Called when a run starts (``run_plan``), before anything is computed or written.

    ``pipeline`` is the parsed pipeline (its keys, grid and stages as written), ``plan`` the
    validated plan (its jobs, one per grid point); a plugin may inspect them, and raise to veto
    the run.
    """


@hookspec
def overparam_job_started(job: Job) -> None:
    """Called once per grid point (``job``) when the task holding it starts on a worker."""


@hookspec
def overparam_job_finished(job: Job, result: MemberResult) -> None:
    """Called once per grid point that finished (status ``done``), after its results are written
    to the store."""


@hookspec
def overparam_job_failed(job: Job, error: str) -> None:
    """Called once per grid point that raised or diverged, after it is recorded in the store;
    ``error`` is the recorded message."""


@hookspec
def overparam_run_finished(store: str, summary: RunSummary) -> None:
    """Called once when a run ends, finished or interrupted; ``store`` is the store's path and
    ``summary`` counts done, failed and diverged points."""


@hookspec
def overparam_register_claims() -> list[type[Claim]]:
    """Return the report claims (``overparam.Claim`` subclasses) this plugin provides: the
    paper's statements its diagnostics' variables test, each with its figure, fit, verdict rule
    and ``overparam show`` columns.

    Unlike the other registration hooks it is called the first time a registry is asked for
    claims (``overparam report``, ``show``, ``plugins``), not when the registry is built, so an
    implementation may import the report's helpers inside its body without slowing planning.
    """
