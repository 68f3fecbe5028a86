"""The report knows no diagnostic by name: what it draws and judges, the registered claims ask for.

Every output variable the built-in diagnostics declare (read through the registry, so a new
output is checked without editing this file) is searched for, as a whole word, in the source of
framework/report/, docstrings and comments included, as ``git grep -w`` would. The claims that
name them live beside the diagnostics, in plugins/diagnostics/*_claims.py.
"""
from __future__ import annotations

import re
from pathlib import Path

from framework.plugin_system.registry import Registry

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "framework" / "report"


def builtin_outputs() -> set[str]:
    registry = Registry(autoload=False)
    return {name for entry in registry.entries("diagnostic") if entry.provider.source == "built-in"
            for name in entry.component.outputs}


def test_the_builtin_diagnostics_declare_outputs_to_look_for() -> None:
    outputs = builtin_outputs()
    assert {"loss", "pl_ratio", "dprime_max", "h_norm_min", "chain_norm_w", "rate"} <= outputs


def test_the_report_package_names_no_builtin_output() -> None:
    pattern = re.compile(r"\b(" + "|".join(sorted(map(re.escape, builtin_outputs()), key=len, reverse=True)) + r")\b")
    found = [f"{path.relative_to(ROOT)}:{number}: {match.group(0)}"
             for path in sorted(REPORT.rglob("*.py"))
             for number, line in enumerate(path.read_text().splitlines(), 1)
             for match in pattern.finditer(line)]
    assert not found, "built-in output names in the report package:\n" + "\n".join(found)


def test_every_builtin_claim_reads_only_declared_outputs() -> None:
    """A claim naming a variable no diagnostic writes would be skipped in every report."""
    registry = Registry(autoload=False)
    outputs = builtin_outputs()
    for entry in registry.entries("claim"):
        assert set(entry.component.variables()) <= outputs, (entry.name, set(entry.component.variables()) - outputs)
        assert entry.provider.source == "built-in"
