"""The store: the results' layout and the zarr store that holds them.

The shape of a run's results (``layout``), the names and codes every store uses (``schema``),
the template, resume and per-point writes (``store``), the run's claim on a store (``lock``)
and ``overparam check`` (``check``, ``point_check``).

Imports: the layers below (up to planning); never execution, the report or the CLI.
"""
