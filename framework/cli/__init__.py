"""The ``overparam`` command line, the top layer: it may import every layer below.

``main`` is loaded when called, so ``overparam --help`` imports neither torch nor Dask.
"""
from __future__ import annotations


def main() -> None:
    """The command group (``framework.cli.commands.main``), imported when the command runs; the
    process then exits without collecting torch's objects (``exit_without_collecting``: 0.8 s
    less at the end of every command that ran a scan)."""
    from framework.cli.commands import main as command_group
    from framework.execution.process_exit import exit_without_collecting

    try:
        command_group()
    finally:
        exit_without_collecting()
