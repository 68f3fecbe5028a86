"""The repository stands alone: no file it ships cites planning notes or tools it does not ship
(the design notes, the stack notes, the style guide, the folder beside the checkout); facts
they held live in docs/ instead."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# spelled in pieces, so that this file does not itself hold what it looks for
OUTSIDE = re.compile("|".join((
    r"\bDES" r"IGN(\.md|\s*§)",
    r"\bSTACK" r"[-_]NOTES",
    r"\bSTY" r"LE(\.md|\s+\")",
    r"(?<![A-Za-z])shar" r"ed/",
    r"\bpaper" r"\.txt",
)))
SKIPPED_DIRS = {".git", ".venv", "venv", "__pycache__", "node_modules", ".hypothesis", ".pytest_cache", "results"}


def shipped_files(root: Path) -> list[Path]:
    """The files of the checkout: git's tracked and not-ignored files in a git checkout, else
    every file under ``root`` outside caches and environments."""
    listed = subprocess.run(["git", "-C", str(root), "ls-files", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, text=True)
    if listed.returncode == 0 and (root / ".git").exists():
        return [root / name for name in listed.stdout.splitlines() if (root / name).is_file()]
    return [path for path in sorted(root.rglob("*")) if path.is_file()
            and not any(part in SKIPPED_DIRS or part.endswith(".egg-info") for part in path.relative_to(root).parts)]


def outside_references(root: Path) -> list[str]:
    """``file:line: text`` for every line of a text file under ``root`` that cites an outside file."""
    found = []
    for path in shipped_files(root):
        data = path.read_bytes()
        if b"\0" in data:
            continue
        for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                found.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    return found


def test_no_shipped_file_cites_a_file_the_repository_does_not_ship():
    references = outside_references(ROOT)
    assert not references, "cited but not shipped (move the fact into docs/ and cite that):\n" + "\n".join(references)


def test_a_planted_citation_is_found_with_its_file_and_line(tmp_path: Path):
    """The scan above is not vacuous: each kind of citation is caught, named by file and line."""
    (tmp_path / "docs").mkdir()
    citations = ["DES" "IGN §5", "DES" "IGN.md", "STACK" "-NOTES", "STY" "LE \"Errors\"", "../shar" "ed/tools/x.py"]
    (tmp_path / "docs" / "a.md").write_text("# title\n" + "".join(f"see {c} here\n" for c in citations))
    (tmp_path / "clean.py").write_text('STYLE = "body{}"  # a constant, not a citation\nshared = 1\n')
    assert outside_references(tmp_path) == [f"docs/a.md:{i}: see {c} here" for i, c in enumerate(citations, 2)]
