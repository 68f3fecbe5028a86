"""The ``overparam`` command line: a thin click layer over the library.

``main`` is the command group; each command parses its options, calls the library and prints.
Commands for pipelines (run, validate, plan, show, report) are added to ``main`` beside
``plugins``.
"""
from __future__ import annotations

import click

from framework import __version__
from framework.listing import render_plugins, render_problems
from framework.registry import Registry


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
