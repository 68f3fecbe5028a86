"""Configuration: a pipeline file read, parsed and checked key by key.

The file's text with line numbers for errors (``source``, ``yaml_errors``), the pipeline's
keys and stages (``pipeline``), its grid (``grid``) and the safe evaluator of numeric
expressions such as ``0.05/m`` (``expressions``).

Imports: the engine, the contract and the plugin system.
"""
