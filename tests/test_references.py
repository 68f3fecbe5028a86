"""What the code and docs name exists: every module, class or function written in backticks
(``framework.planning.tasks.Packing``, `overparam.run`) imports and has that attribute, and
every repository file they point to (docs/plugins.md, benchmarks/ensemble.py) is there. A
rename or a removal that leaves a docstring or a page naming the old thing fails here.
"""
from __future__ import annotations

import importlib
import re
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOTTED = re.compile(r"`{1,2}((?:framework|overparam|plugins)(?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
FILE = re.compile(r"(?<![\w/.])((?:docs|tests|benchmarks|framework|plugins|pipelines|examples)/[A-Za-z0-9_/\-.]+"
                  r"\.(?:md|py|sh|yaml))")
PLACEHOLDERS = ("NAME", "/x.", "/a.", "results/")  # paths written as patterns, and what a run writes
DEPRECATED_MODULES = ("framework.testing",)  # kept importable for old plugins; the docs name overparam.testing


def sources() -> list[Path]:
    """The files people read to learn the code: its modules, the docs, the examples, benchmarks."""
    files = [*ROOT.glob("framework/**/*.py"), *ROOT.glob("overparam/**/*.py"), *ROOT.glob("plugins/**/*.py"),
             *ROOT.glob("benchmarks/*.py"), *ROOT.glob("docs/*.md"), ROOT / "README.md",
             *ROOT.glob("examples/**/*.py"), *ROOT.glob("examples/**/*.md")]
    return sorted(files)


def resolves(name: str) -> bool:
    """Whether ``a.b.c`` is an importable module or an attribute path below one; a name that
    only the deprecated ``framework`` facade still answers does not count."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        module = ".".join(parts[:cut])
        if module in DEPRECATED_MODULES:
            return False
        try:
            found: object = importlib.import_module(module)
        except ImportError:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            for attribute in parts[cut:]:
                try:
                    found = getattr(found, attribute)
                except (AttributeError, DeprecationWarning):
                    return False
        return True
    return False


def missing_references(paths: list[Path]) -> list[str]:
    """``file: name`` for every dotted name or repository path a file names that does not exist."""
    missing = []
    for path in paths:
        text = path.read_text()
        names = [m.group(1) for m in DOTTED.finditer(text) if not resolves(m.group(1))]
        names += [m.group(1) for m in FILE.finditer(text)
                  if not any(p in m.group(1) for p in PLACEHOLDERS) and not (ROOT / m.group(1)).exists()]
        missing += [f"{path.name}: {name}" for name in names]
    return missing


def test_everything_the_code_and_docs_name_exists() -> None:
    files = sources()
    assert len(files) > 100
    missing = missing_references(files)
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("text", ["see ``framework.storage.layout.layout_of``", "in `overparam.runn`",
                                  "as docs/nothing-here.md says", "``framework.Model``",
                                  "``framework.testing.assert_component_contract``"])
def test_a_name_that_is_gone_is_found(tmp_path: Path, text: str) -> None:
    page = tmp_path / "page.md"
    page.write_text(f"{text}, beside `overparam.run` and docs/plugins.md, which exist")
    assert len(missing_references([page])) == 1
