"""The core's layers import only downward, and plugins only the public API (docs/architecture.md).

Every ``import`` and ``from ... import`` statement of framework/ and plugins/ is parsed, those
inside functions and ``if TYPE_CHECKING:`` blocks included, and checked against the order of
the layers: a module may import its own layer and the layers below it, never one above.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("engine", "contract", "plugin_system", "configuration", "planning", "storage", "execution", "report",
          "api", "cli")
PUBLIC = ("overparam", "overparam.engine", "overparam.claims", "overparam.testing")  # what plugins may import
MAX_LINES = 400


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import statement of a file, absolute names only, those inside
    functions and ``if TYPE_CHECKING:`` blocks included."""
    found = []
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def layer_of(module: str) -> str | None:
    """The layer of a ``framework.X...`` module name (None for the facade and framework.testing)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def framework_files() -> list[Path]:
    return sorted((ROOT / "framework").rglob("*.py"))


def test_every_module_of_framework_is_in_a_layer() -> None:
    top_level = {p.name for p in (ROOT / "framework").glob("*.py")}
    assert top_level == {"__init__.py", "testing.py"}, "a module outside the layers: " + ", ".join(
        sorted(top_level - {"__init__.py", "testing.py"}))
    packages = {p.name for p in (ROOT / "framework").iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert packages == set(LAYERS)
    for layer in LAYERS:
        doc = ast.get_docstring(ast.parse((ROOT / "framework" / layer / "__init__.py").read_text()))
        assert doc and "Imports:" in doc or layer == "cli" and doc, f"framework/{layer} needs a docstring saying what it may import"


def test_imports_go_only_downward() -> None:
    upward = []
    for path in framework_files():
        relative = path.relative_to(ROOT)
        here = relative.parts[1] if len(relative.parts) > 2 else None
        for line, module in imported_modules(path):
            if not (module == "framework" or module.startswith("framework.")):
                continue
            target = layer_of(module)
            if here is None:  # the facade and framework.testing: the public API, above every layer
                continue
            if module == "framework":
                if here != "cli":
                    upward.append(f"{relative}:{line} imports the public facade `framework` (a layer imports modules)")
                continue
            if target is None:
                upward.append(f"{relative}:{line} imports {module}, which is in no layer")
            elif LAYERS.index(target) > LAYERS.index(here):
                upward.append(f"{relative}:{line} ({here}) imports {module} ({target}), a layer above")
    assert not upward, "\n".join(upward)


def package_graph(files: list[Path], root: Path) -> dict[str, set[str]]:
    """Which of framework's sub-packages each sub-package imports (type-only imports included)."""
    edges: dict[str, set[str]] = {}
    for path in files:
        relative = path.relative_to(root)
        if len(relative.parts) < 3:
            continue
        here = relative.parts[1]
        for _, module in imported_modules(path):
            parts = module.split(".")
            if parts[0] == "framework" and len(parts) > 1 and parts[1] != here:
                edges.setdefault(here, set()).add(parts[1])
    return edges


def cycle_in(edges: dict[str, set[str]]) -> list[str]:
    """One cycle of the graph as its nodes in order (first repeated at the end), or []: a
    depth-first search that meets a node on its own path."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str]:
        if node in path:
            return path[path.index(node):] + [node]
        if node in done:
            return []
        for target in sorted(edges.get(node, ())):
            found = visit(target, path + [node])
            if found:
                return found
        done.add(node)
        return []

    for start in sorted(edges):
        found = visit(start, [])
        if found:
            return found
    return []


def test_no_import_circle_among_the_sub_packages() -> None:
    """The sub-packages of framework/ import one another without a circle, type-only imports
    included, so each can be read, tested and replaced from the bottom up."""
    cycle = cycle_in(package_graph(framework_files(), ROOT))
    assert not cycle, "import circle: " + " -> ".join(cycle)


def test_the_circle_search_finds_a_planted_circle(tmp_path: Path) -> None:
    for package, imported in (("a", "b"), ("b", "c"), ("c", "a")):
        (tmp_path / "framework" / package).mkdir(parents=True)
        (tmp_path / "framework" / package / "m.py").write_text(
            f"from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from framework.{imported}.m import x\n")
    graph = package_graph(sorted((tmp_path / "framework").rglob("*.py")), tmp_path)
    assert cycle_in(graph) == ["a", "b", "c", "a"]
    assert cycle_in({"a": {"b"}, "b": {"c"}}) == []


@pytest.mark.parametrize("folder", ["plugins", "examples"])
def test_plugins_and_examples_import_only_the_public_api(folder: str) -> None:
    private = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for line, module in imported_modules(path):
            if module.split(".")[0] in ("framework", "overparam") and module not in PUBLIC:
                private.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not private, "\n".join(private)


def test_the_docs_show_only_the_public_api() -> None:
    """Every Python import a page of the docs shows (README.md, docs/, examples/) names
    ``overparam``, never the implementation: readers copy what the docs show."""
    private = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), *sorted((ROOT / "examples").rglob("*.md"))]:
        for number, line in enumerate(page.read_text().splitlines(), start=1):
            words = line.strip().split()
            if len(words) > 1 and words[0] in ("from", "import") and words[1].split(".")[0] in ("framework", "plugins"):
                private.append(f"{page.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not private, "\n".join(private)


@pytest.mark.parametrize("folder", ["framework", "plugins"])
def test_no_module_is_over_400_lines(folder: str) -> None:
    long = [f"{p.relative_to(ROOT)}: {n} lines" for p in sorted((ROOT / folder).rglob("*.py"))
            if (n := len(p.read_text().splitlines())) > MAX_LINES]
    assert not long, "\n".join(long)


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    """The parser finds imports inside functions and TYPE_CHECKING blocks (how the core hides
    heavy imports), so an upward import there is not missed."""
    module = tmp_path / "m.py"
    module.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from framework.cli.commands import main\n"
                      "def f():\n    import framework.storage.store\n")
    assert [m for _, m in imported_modules(module) if m.startswith("framework")] == [
        "framework.cli.commands", "framework.storage.store"]
    assert layer_of("framework.cli.commands") == "cli" and layer_of("framework.testing") is None


def test_storage_imports_nothing_from_planning() -> None:
    """The store is made from the plan's ``Layout`` and the parsed pipeline (contract and
    configuration), so that validating completely is planning's job alone."""
    found = [f"{path.relative_to(ROOT)}:{line} imports {module}"
             for path in sorted((ROOT / "framework" / "storage").rglob("*.py"))
             for line, module in imported_modules(path) if module.startswith("framework.planning")]
    assert not found, "\n".join(found)
