"""The plugin contract's version, and where each change of it is explained.

``API_VERSION`` counts the changes of the contract a plugin is written against (the component
and claim classes, their methods, what they import). Each change has a migration note in
docs/plugins.md, "Compatibility"; a plugin refused for a method that no longer matches is
pointed at the note of the change that explains the difference.
"""
from __future__ import annotations

API_VERSION = 3
"""1: the first release. 2: initializers draw a model's declared weights,
``initialize(params, layout, seed)``, and optimizers step through the trained ``network``.
3: the public API is ``import overparam`` (``from framework import ...`` deprecated), and
claims see typed fits, store views and assessments."""

COMPATIBILITY = "docs/plugins.md, 'Compatibility'"
MIGRATION_NOTES: dict[tuple[str, str], str] = {
    ("Initializer", "initialize"): f"{COMPATIBILITY}, 'API version 2: initializers draw a model's declared weights'",
    ("Optimizer", "step"): f"{COMPATIBILITY}, 'API version 2: optimizers step through the network'",
}
