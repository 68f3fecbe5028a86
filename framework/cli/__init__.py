"""The ``overparam`` command line, the top layer: it may import every layer below.

``main`` is loaded when called, so ``overparam --help`` imports neither torch nor Dask.
"""
from __future__ import annotations


def main() -> None:
    """The command group (``framework.cli.commands.main``), imported when the command runs."""
    from framework.cli.commands import main as command_group

    command_group()
