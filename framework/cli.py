"""The ``overparam`` command line: a thin click layer over the library.

``main`` is the command group; each command parses its options, calls the library and prints.
Commands for pipelines (run, validate, plan, show, report) are added to ``main`` beside
``plugins``.
"""
from __future__ import annotations

import click

from framework import __version__
from framework.layout import layout_of
from framework.listing import render_plugins, render_problems
from framework.plan import Plan, plan_file
from framework.plan_text import render_plan, render_summary
from framework.registry import Registry
from framework.source import PipelineError

INVALID_PIPELINE = 2


@click.group()
@click.version_option(__version__, prog_name="overparam")
def main() -> None:
    """Test, by experiment, what theory proves about over-parameterized recurrent networks."""


@main.command("plugins")
@click.option("--verbose", "-v", is_flag=True, help="Show each component's parameters (type, default, bounds).")
@click.option("--plugin", "-p", "modules", multiple=True, metavar="MODULE",
              help="Also load this plugin module, as a pipeline's plugins: list does (repeatable).")
@click.option("--block", "blocked", multiple=True, metavar="NAME",
              help="Do not load the plugin of this entry-point or module name (repeatable).")
def plugins(verbose: bool, modules: tuple[str, ...], blocked: tuple[str, ...]) -> None:
    """List every component by kind with its provider: built-in, or distribution and version.

    Exits with status 1 when a plugin failed to load or two plugins provide one name. Set
    OVERPARAM_DISABLE_PLUGIN_AUTOLOAD=1 to load no third-party entry points.
    """
    registry = Registry(modules, blocked=blocked)
    click.echo(render_plugins(registry, verbose))
    if registry.problems:
        click.echo(render_problems(registry), err=True)
        raise SystemExit(1)


def checked_plan(file: str) -> Plan:
    """The validated plan of a pipeline file (its result layout checked too); on any problem,
    every problem on stderr, one ``file:line key.path: message`` per line, and exit status 2."""
    try:
        plan = plan_file(file)
        layout_of(plan)
    except PipelineError as error:
        click.echo(str(error), err=True)
        raise SystemExit(INVALID_PIPELINE) from None
    return plan


@main.command("validate")
@click.argument("file")
def validate(file: str) -> None:
    """Check a pipeline file completely without running it, and summarize it.

    Exits with status 2 and every problem (file, line, key path, what was expected) on stderr
    when the file is not a valid pipeline. Nothing is computed or written.
    """
    click.echo(render_summary(checked_plan(file), file))


@main.command("plan")
@click.argument("file")
def plan(file: str) -> None:
    """Show the jobs a pipeline file expands to, one row per grid point, and its stage DAG.

    Validates the file first, as ``overparam validate`` does (exit status 2 on problems).
    """
    click.echo(render_plan(checked_plan(file), file))
