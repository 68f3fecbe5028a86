"""The store: the zarr store that holds a run's results, laid out as the plan's ``Layout`` says.

The pipeline's digest and differences (``schema``), the template, resume and chunk writes
(``store``), the run's claim on a store (``lock``) and ``overparam check`` (``check``,
``point_check``).

Imports: the engine, the contract and configuration; nothing of planning, execution, the
report or the CLI.
"""
