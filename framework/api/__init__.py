"""The Python API behind ``import overparam``: run, validate and plan a pipeline, open a store,
make its report, from a notebook or a script (docs/api.md).

Imports: every layer below it (execution, report, storage, planning, ...); only the command
line sits above it.
"""
