"""Every hook a plugin can implement: the whole plugin API in one file.

Hook names start with ``overparam_``; pluggy calls them with keyword arguments, and an
implementation may take any subset of a hook's arguments. A plugin is any module or object with
``@hookimpl`` functions (``from overparam import hookimpl``).

The registration hooks are called once per ``Registry`` (plugin manager), when it is built: on
the client, by planning (``overparam validate``, ``plan``, ``run``) and by ``overparam plugins``.
No registry is built on a Dask worker: the classes they return travel to the workers inside
the plan's jobs. The lifecycle hooks are called on the client by ``run_plan``, whoever calls
it (the command line or a program, passing the registry's relay, ``HookRelay``), once per
event each names.

The lifecycle hooks receive objects made in the layers above this one (the parsed pipeline,
the plan, its jobs); they are named here by what a plugin may read of them, the protocols of
``framework.contract.run_records``, so that this module imports nothing from above.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from framework.contract.claim import Claim
    from framework.contract.components import Generator, Initializer, Optimizer
    from framework.contract.diagnostic import Diagnostic
    from framework.contract.model import Model
    from framework.contract.run_records import JobRecord, MemberResult, PipelineRecord, PlanRecord, RunSummary

PROJECT = "overparam"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
HookRelay = pluggy.HookRelay  # what a registry's ``hook`` is: the lifecycle hooks fire through it


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
def overparam_pipeline_loaded(pipeline: PipelineRecord, plan: PlanRecord) -> None:
    """Called once when a run starts (``run_plan``), before the store is locked or written and
    before any cluster is reached; raise to veto the run (nothing is computed).

    :param pipeline: the parsed pipeline: its keys as read, overrides applied (``raw``), its
        ``name``, ``seed`` and ``store``.
    :param plan: the validated plan: the stages in dependency ``order`` with their ``kinds``,
        the store's ``steps``, and its ``jobs``, one per grid point (made as they are read:
        iterating over a large scan's jobs costs time).
    """


@hookspec
def overparam_job_started(job: JobRecord) -> None:
    """Called once per grid point to be run, on the client, when the Dask task holding it starts
    on a worker. A Dask task runs a batch of ensembles one after another, so every point of a
    batch is reported when the batch starts (not when its own ensemble does); should the
    worker's report come late, it is fired just before the batch's results are recorded.

    :param job: the grid point's job: its ``point`` (``index``, ``values``, ``label()``) and
        the ``shape`` of its problem.
    """


@hookspec
def overparam_job_finished(job: JobRecord, result: MemberResult) -> None:
    """Called once per grid point whose status is ``done``, after its results are written to
    the store (points are written a chunk at a time, so shortly after it finished).

    :param job: the grid point's job, as ``overparam_job_started`` gives it.
    :param result: what the point left in the store: its ``status``, ``wall_time``,
        ``reached_step``, ``learning_rate`` and each diagnostic's ``values``.
    """


@hookspec
def overparam_job_failed(job: JobRecord, error: str) -> None:
    """Called once per grid point that raised or diverged, after it is recorded in the store.

    :param job: the grid point's job, as ``overparam_job_started`` gives it.
    :param error: the message recorded in the store's ``error`` variable.
    """


@hookspec
def overparam_run_finished(store: str, summary: RunSummary) -> None:
    """Called once when a run ends: finished, stopped at a failure (``--fail-fast``) or
    interrupted; not when the run was vetoed or refused before it started.

    :param store: the store's path.
    :param summary: the points found done (``skipped``), the ``counts`` of this run's points by
        status, the ``elapsed`` seconds, and whether it was ``interrupted``.
    """


@hookspec
def overparam_register_claims() -> list[type[Claim]]:
    """Return the report claims (``overparam.Claim`` subclasses) this plugin provides: the
    paper's statements its diagnostics' variables test, each with its figure, fit, verdict rule
    and ``overparam show`` columns.

    Unlike the other registration hooks it is called the first time a registry is asked for
    claims (``overparam report``, ``show``, ``plugins``), not when the registry is built, so an
    implementation may import the report's helpers inside its body without slowing planning.
    """
