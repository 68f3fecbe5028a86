"""The ``overparam`` command line: a thin click layer over the library.

Each command imports what it uses when it runs, so ``overparam --help`` answers without
importing torch, Dask or xarray, and ``validate`` and ``plan`` without Dask or xarray.

``main`` is the command group; each command parses its options, calls the library and prints.
Commands for pipelines (run, validate, plan) and stores (show, report, check) are added to ``main`` beside
``plugins``.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from framework import __version__
from framework.execution.cluster_options import (
    CLUSTER_SYSTEMS,
    DEFAULT_TIMEOUT,
    JOB_QUEUE_TIMEOUT,
    LOCALHOST,
    ClusterError,
    ClusterOptions,
    wait_timeout,
)
from framework.cli.deferred import deferred_torch
from framework.execution.progress import MODES
from framework.storage.schema import DEFAULT_FLUSH_INTERVAL

if TYPE_CHECKING:
    from framework.planning.plan import Plan

INVALID_PIPELINE = 2
CONTRACT_MISMATCH = 2
NOT_A_STORE = 2
INTERRUPTED = 130


class InterruptibleGroup(click.Group):
    """A command group whose commands answer Ctrl-C with one line and exit status 130, not
    click's "Aborted!" and 1 (``run`` says itself what its store keeps)."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo(f"interrupted: {ctx.invoked_subcommand or 'overparam'} stopped before it wrote anything",
                       err=True)
            ctx.exit(INTERRUPTED)


@click.group(cls=InterruptibleGroup)
@click.version_option(__version__, prog_name="overparam")
def main() -> None:
    """Test, by experiment, what theory proves about over-parameterized recurrent networks."""


def plugin_options(command: Callable) -> Callable:
    """``--no-autoload`` and ``--block NAME``, for every command that loads plugins."""
    command = click.option("--block", "blocked", multiple=True, metavar="NAME",
                           help="Do not load the plugin of this entry-point or module name (repeatable).")(command)
    return click.option("--no-autoload", is_flag=True,
                        help="Load no third-party entry points, only the built-ins and named modules "
                             "(as OVERPARAM_DISABLE_PLUGIN_AUTOLOAD=1 does).")(command)


def autoload_choice(no_autoload: bool) -> bool | None:
    """``--no-autoload`` as ``Registry``'s ``autoload``: off, or left to the environment variable."""
    return False if no_autoload else None


@main.command("plugins")
@click.option("--verbose", "-v", is_flag=True, help="Show each component's file and parameters (type, default, bounds).")
@click.option("--plugin", "-p", "modules", multiple=True, metavar="MODULE",
              help="Also load this plugin module, as a pipeline's plugins: list does (repeatable).")
@plugin_options
def plugins(verbose: bool, modules: tuple[str, ...], blocked: tuple[str, ...], no_autoload: bool) -> None:
    """List every component by kind with its provider: built-in, distribution and version, or
    module and file.

    Exits with status 2 when a component or claim is refused because its methods do not match
    the contract (each refusal names the method, both signatures and the migration note), 1
    when a plugin failed to load otherwise or two plugins provide one name. Set
    OVERPARAM_DISABLE_PLUGIN_AUTOLOAD=1 to load no third-party entry points.
    """
    with deferred_torch():
        from framework.plugin_system.listing import render_plugins, render_problems
        from framework.plugin_system.registry import ContractError, Registry

        registry = Registry(modules, autoload=autoload_choice(no_autoload), blocked=blocked,
                            directory=Path.cwd())
        click.echo(render_plugins(registry, verbose))
    if registry.problems:
        click.echo(render_problems(registry), err=True)
        raise SystemExit(CONTRACT_MISMATCH if any(isinstance(p, ContractError) for p in registry.problems) else 1)


OVERRIDES_HELP = ("OVERRIDES change keys of the file without editing it: key.path=value (value in YAML: "
                  "grid.m=[64,128], stages.train.params.lr=0.01/m), +key.path=value adds a key the file lacks, "
                  "~key.path removes one.")


def overrides_argument(command: Callable) -> Callable:
    """The ``OVERRIDES...`` after the file, for every command that reads a pipeline."""
    return click.argument("overrides", nargs=-1, metavar="[OVERRIDES]...")(command)


def checked_plan(file: str, no_autoload: bool = False, blocked: tuple[str, ...] = (),
                 overrides: tuple[str, ...] = ()) -> Plan:
    """The validated plan of a pipeline file with its overrides (its store's layout included); on any
    problem, every problem on stderr, one ``file:line key.path: message`` (or ``file override N,
    TEXT: message``) per line, and exit status 2."""

    from framework.planning.plan import plan_file
    from framework.configuration.source import PipelineError

    try:
        return plan_file(Path(file), overrides=overrides, autoload=autoload_choice(no_autoload), blocked=blocked)
    except PipelineError as error:
        click.echo(str(error), err=True)
        raise SystemExit(INVALID_PIPELINE) from None


@main.command("validate", epilog=OVERRIDES_HELP)
@click.argument("file")
@overrides_argument
@plugin_options
def validate(file: str, overrides: tuple[str, ...], blocked: tuple[str, ...], no_autoload: bool) -> None:
    """Check a pipeline file completely without running it, and summarize it.

    Exits with status 2 and every problem (file, line or override, key path, what was expected)
    on stderr when the file is not a valid pipeline. Nothing is computed or written.
    """
    with deferred_torch():
        from framework.planning.plan_text import render_summary

        click.echo(render_summary(checked_plan(file, no_autoload, blocked, overrides), file))


@main.command("plan", epilog=OVERRIDES_HELP)
@click.argument("file")
@overrides_argument
@click.option("--all", "every", is_flag=True, help="List every job (a large grid lists its first and last ones).")
@plugin_options
def plan(file: str, overrides: tuple[str, ...], every: bool, blocked: tuple[str, ...], no_autoload: bool) -> None:
    """Show the jobs a pipeline file expands to, one row per grid point, and its stage DAG.

    Validates the file first, as ``overparam validate`` does (exit status 2 on problems). A
    grid of more than 15 jobs lists its first 10 and last 5; --all lists every one.
    """
    with deferred_torch():
        from framework.planning.plan_text import render_plan

        click.echo(render_plan(checked_plan(file, no_autoload, blocked, overrides), file, every))


@main.command("run", epilog=OVERRIDES_HELP)
@click.argument("file")
@overrides_argument
@click.option("--store", "store", type=click.Path(path_type=Path), help="Store path (default: the file's `store:`).")
@click.option("--scheduler", metavar="ADDRESS", help="Run on an existing Dask cluster (tcp://host:port).")
@click.option("--timeout", type=click.FloatRange(min=0.1), metavar="SECONDS",
              help=f"With --scheduler: how long to try to reach it and to wait for a worker (default "
                   f"{DEFAULT_TIMEOUT:g}); with --cluster: how long to wait for the first job's worker "
                   f"(default {JOB_QUEUE_TIMEOUT:g}).")
@click.option("--workers", type=click.IntRange(min=1), help="Local cluster: worker processes (default: cores, or GPUs).")
@click.option("--threads", type=click.IntRange(min=1), help="Torch threads per worker (default: cores / workers).")
@click.option("--max-ensemble", type=click.IntRange(min=1), help="At most this many grid points per task.")
@click.option("--tasks-per-batch", type=click.IntRange(min=1),
              help="Tasks each Dask task runs one after another (default: about a second of work).")
@click.option("--flush-every", "flush_interval", type=click.FloatRange(min=0), default=DEFAULT_FLUSH_INTERVAL,
              show_default=True, metavar="SECONDS",
              help="Write finished points at least this often (a killed run loses those since).")
@click.option("--overwrite", is_flag=True, help="Replace a store made from a different pipeline.")
@click.option("--fail-fast", is_flag=True, help="Stop at the first failed or diverged grid point.")
@click.option("--progress", type=click.Choice(MODES), default="auto", show_default=True,
              help="Progress display: a live bar on a terminal, plain lines otherwise.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the final summary (same as --progress quiet).")
@click.option("--dashboard", is_flag=True, help="Start Dask's dashboard (needs bokeh) and print its address.")
@click.option("--host", default=None,
              help=f"The interface the scheduler and dashboard listen on (local cluster: {LOCALHOST}; "
                   "--cluster: dask-jobqueue's choice). Beyond the loopback interface the run talks TLS with "
                   "certificates made for it, unless --insecure.")
@click.option("--cluster", "system", type=click.Choice(CLUSTER_SYSTEMS),
              help="Run on a batch cluster through dask-jobqueue; job settings from Dask's configuration "
                   "(jobqueue.SYSTEM.cores, memory, walltime, queue, ...) and --cluster-option.")
@click.option("--jobs", type=click.IntRange(min=1), help="--cluster: the number of jobs to ask for (default 1).")
@click.option("--adapt", metavar="MIN:MAX", help="--cluster: between MIN and MAX jobs, as the scan needs them.")
@click.option("--cluster-option", "cluster_settings", multiple=True, metavar="KEY=VALUE",
              help="--cluster: a job setting over Dask's configuration, value in YAML (walltime=02:00:00, "
                   "job-extra-directives=[--exclusive]); repeatable.")
@click.option("--gpus-per-job", type=click.IntRange(min=1),
              help="--cluster: GPUs per job (SLURM --gres=gpu:K), one worker on each.")
@click.option("--insecure", is_flag=True,
              help="No TLS beyond the loopback interface: anyone who reaches the scheduler can run code as you.")
@click.option("--force", is_flag=True, help="Run even when the memory estimate exceeds what this machine has.")
@plugin_options
@click.option("--report", "report_after", is_flag=True, help="Make the report (overparam report) when the run ends.")
@click.option("--profile", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE.html",
              help="Write Dask's performance report of the run (task stream, worker profiles) to FILE.html.")
def run(file: str, overrides: tuple[str, ...], store: Path | None, scheduler: str | None, timeout: float | None,
        workers: int | None, threads: int | None, max_ensemble: int | None, tasks_per_batch: int | None,
        flush_interval: float, overwrite: bool, fail_fast: bool, progress: str, quiet: bool, dashboard: bool,
        report_after: bool, host: str | None, system: str | None, jobs: int | None, adapt: str | None,
        cluster_settings: tuple[str, ...], gpus_per_job: int | None, insecure: bool, force: bool,
        blocked: tuple[str, ...], no_autoload: bool, profile: Path | None) -> None:
    """Run a pipeline file's scan and write its results to a zarr store.

    Re-running on the same store resumes it: grid points already done are skipped. Exit
    status: 0 when every point is done, 1 when some failed or diverged, 2 for an invalid
    pipeline or a store that cannot be used, 130 when interrupted (the store resumes). A scan
    whose memory estimate exceeds this machine's available memory is refused (exit status 2)
    unless --force.
    """
    from framework.execution.orchestrator import RunOptions, run_plan
    from framework.execution.progress import ScanProgress
    from framework.configuration.source import PipelineError
    from framework.storage.store import StoreError

    from framework.execution.jobqueue import checked_job_queue

    try:
        queue = checked_job_queue(system, jobs, adapt, cluster_settings, gpus_per_job, host, insecure)
    except ClusterError as error:
        refuse_run(file, error)
    plan = checked_plan(file, no_autoload, blocked, overrides)
    cluster = ClusterOptions(scheduler, workers, threads, dashboard, host or LOCALHOST, wait_timeout(timeout, queue),
                             jobqueue=queue, insecure=insecure)
    options = RunOptions(cluster=cluster, store=store,
                         overwrite=overwrite, fail_fast=fail_fast, progress="quiet" if quiet else progress,
                         max_ensemble=max_ensemble, tasks_per_batch=tasks_per_batch, flush_interval=flush_interval,
                         check_memory=not force, profile=profile)
    display = ScanProgress(options.progress)
    try:
        summary = run_plan(plan, options, display, hooks=plan.registry.hook)
    except PipelineError as error:
        click.echo(str(error), err=True)
        raise SystemExit(INVALID_PIPELINE) from None
    except (StoreError, ClusterError) as error:
        refuse_run(file, error)
    click.echo(summary.text())
    if report_after and not summary.interrupted:
        from framework.report import build_report

        display.phase(f"writing the report of {summary.store}")
        click.echo(build_report(summary.store).summary())
    if summary.interrupted and not fail_fast:
        raise SystemExit(INTERRUPTED)
    if not summary.ok:
        raise SystemExit(1)


def refuse_run(file: str, error: Exception) -> NoReturn:
    """A store or cluster the run cannot use: each line of the error after the file's name, and
    exit status 2."""
    click.echo("\n".join(f"{file}: {line}" for line in str(error).splitlines()), err=True)
    raise SystemExit(INVALID_PIPELINE) from None


@main.command("show")
@click.argument("store", type=click.Path(exists=True, file_okay=False, path_type=Path))
def show(store: Path) -> None:
    """A one-screen summary of a run store: grid, statuses, final values of key diagnostics."""
    with deferred_torch():  # the plugins' claims are loaded, their computing code never runs
        from framework.report.show import render_store

        click.echo(render_store(store))


@main.command("check")
@click.argument("store", type=click.Path(path_type=Path))
def check(store: Path) -> None:
    """Whether a run store is complete and consistent, listing every departure from the store
    contract in plain sentences, each half-written grid point named.

    Reads the store only. Exit status: 0 when it is consistent (complete or not: the last line
    says which), 1 when it departs from the contract, 2 when the path is not an overparam store.
    """
    from framework.storage.check import NotAStore, check_store

    try:
        checked = check_store(store)
    except NotAStore as error:
        click.echo(str(error), err=True)
        raise SystemExit(NOT_A_STORE) from None
    click.echo(checked.text())
    if not checked.consistent:
        raise SystemExit(1)


@main.command("report")
@click.argument("store", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Report folder (default: beside the store, results/NAME.zarr -> results/NAME.report).")
def report(store: Path, out: Path | None) -> None:
    """Figures, fitted scaling laws and a verdict for each of the paper's claims the store can test.

    Writes report.md, report.html and the figures (PNG and SVG). The store is only read; points
    not done (failed, diverged, pending) are left out and listed.
    """
    from framework.report import build_report

    click.echo(build_report(store, out).summary())


if __name__ == "__main__":
    from framework.cli import main as command

    command()
