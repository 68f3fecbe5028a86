"""A test plugin whose diagnostics collide with names the store already uses."""
from __future__ import annotations

from overparam import Diagnostic, Output, hookimpl


class Twin(Diagnostic):
    """Declares `loss`, the name the built-in loss diagnostic declares."""

    name = "twin"
    outputs = {"loss": Output("a second loss", "§2.2")}

    def measure(self, params, probe):
        return {"loss": probe.loss}


class Named(Diagnostic):
    """Declares an output named like the grid axis m."""

    name = "named"
    outputs = {"m": Output("a width", "§2")}

    def measure(self, params, probe):
        return {"m": probe.loss}


@hookimpl
def overparam_register_diagnostics():
    return [Twin, Named]
