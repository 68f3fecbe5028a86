"""YAML syntax errors in the project's words: what is wrong, on the line where the mistake most
likely is, and the fix.

PyYAML reports where its parser gave up, in its own terms ("while parsing a block mapping
expected <block end>, but found '<block mapping start>'"), often on the line after the one a
person got wrong. For indentation, the likeliest mistake is found by trying: each line near
the failure is re-indented like its neighbours, and a change that makes the file parse names
the line and the indentation it needs. Among several such changes, the one whose result a
``plausibility`` function finds fewest problems with (the pipeline's own checks) wins.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

Plausibility = Callable[[Any], int]  # problems a parsed document still has: fewer is likelier
LOOK_BACK = 6  # lines before the failure that may hold the mistake
NEIGHBOURS = 6  # lines each side whose indentation a fix may take


@dataclass(frozen=True)
class SyntaxProblem:
    """A syntax error explained: the message and the 1-based line it points at."""

    message: str
    line: int | None


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _content_lines(lines: list[str]) -> list[int]:
    """Indices of the lines that hold something besides spaces and comments."""
    return [i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")]


class _KeyCountingLoader(yaml.SafeLoader):
    """The safe loader, counting the keys a mapping repeats (``duplicates``): YAML keeps the last
    of them silently, and a re-indentation that makes one is no fix."""

    duplicates = 0

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [key.value for key, _ in node.value if isinstance(key, yaml.ScalarNode)]
        self.duplicates += len(keys) - len(set(keys))
        return super().construct_mapping(node, deep=deep)


def _parses(lines: list[str]) -> tuple[bool, Any, int]:
    """Whether the lines parse, what they hold, and how many keys they repeat."""
    loader = _KeyCountingLoader("\n".join(lines))
    try:
        return True, loader.get_single_data(), loader.duplicates
    except Exception:  # the loader's own failure, whatever its type (a tagged scalar it cannot build)
        return False, None, 0
    finally:
        loader.dispose()


def _indentation_fix(text: str, problem_line: int, plausibility: Plausibility | None) -> tuple[int, int, int] | None:
    """``(line index, spaces now, spaces needed)`` of the one-line re-indentation that makes the
    file parse and that leaves the fewest problems (repeated keys counted), searching the lines
    up to the failure; None when a fix that gives another document is as likely (a hint would
    be a guess). Two fixes that give the same document (either of two lines re-aligned) agree."""
    lines = text.splitlines()
    content = _content_lines(lines)
    before = [i for i in content if i <= problem_line][-LOOK_BACK:]
    found: list[tuple[int, int, int, int, int, int]] = []  # (problems, change, distance, index, now, needed)
    results: dict[tuple[int, int], Any] = {}  # (index, needed) -> the document that fix gives
    for index in reversed(before):
        position = content.index(index)
        nearby = content[max(0, position - NEIGHBOURS):position] + content[position + 1:position + 1 + NEIGHBOURS]
        now = _indent(lines[index])
        options = sorted({0} | {_indent(lines[i]) for i in nearby} | ({_indent(lines[nearby[0]]) + 2} if nearby else set()))
        for needed in options:
            if needed == now:
                continue
            changed = list(lines)
            changed[index] = " " * needed + lines[index].lstrip(" ")
            ok, data, repeated = _parses(changed)
            if not ok:
                continue
            problems = repeated + (plausibility(data) if plausibility is not None else 0)
            found.append((problems, abs(needed - now), problem_line - index, index, now, needed))
            results[index, needed] = data
    if not found:
        return None
    found.sort()
    best = found[0]
    chosen = results[best[3], best[5]]
    if any(other[:2] == best[:2] and results[other[3], other[5]] != chosen for other in found[1:]):
        return None  # as likely a fix that gives another document: a hint would be a guess
    return best[3:]


def _key_text(line: str) -> str:
    """The key a line starts with (``needs`` of ``needs: [train]``), or the line itself, short."""
    stripped = line.strip()
    key = stripped.split(":", 1)[0] if ":" in stripped else stripped
    return key[:40]


def explain(text: str, error: yaml.MarkedYAMLError, plausibility: Plausibility | None = None) -> SyntaxProblem:
    """The project's message for a YAML syntax error, on the likeliest line."""
    problem = error.problem or ""
    context = error.context or ""
    mark = error.problem_mark or error.context_mark
    line = mark.line if mark is not None else None  # 0-based
    start = error.context_mark.line if error.context_mark is not None else line
    lines = text.splitlines()
    if "'\\t'" in problem or "\t" in problem:
        return SyntaxProblem("a tab is used for indentation: YAML indents with spaces only; replace the tab "
                             "with spaces", (line or 0) + 1)
    if "quoted scalar" in context and "end of stream" in problem:
        return SyntaxProblem("a quote opened on this line is never closed: add the closing quote",
                             (start or 0) + 1)
    if "flow" in context and ("expected ','" in problem or "end of stream" in problem):
        bracket = "}" if "mapping" in context else "]"
        opener = "{" if bracket == "}" else "["
        return SyntaxProblem(f"the '{opener}' opened on this line is not closed where it should be: a '{bracket}' "
                             f"is missing, or a ',' between its items (the parser stopped at line {(line or 0) + 1})",
                             (start or 0) + 1)
    if "block" in context and ("but found '}'" in problem or "but found ']'" in problem):
        bracket = problem.rsplit("'", 2)[-2]
        return SyntaxProblem(f"a '{bracket}' here closes nothing: remove it, or add the opening bracket it belongs "
                             "to", (line or 0) + 1)
    if line is not None and ("expected <block end>" in problem or "mapping values are not allowed" in problem
                             or "could not find expected ':'" in problem):
        fix = _indentation_fix(text, line, plausibility)
        if fix is not None:
            index, now, needed = fix
            neighbour = next((i for i in reversed(_content_lines(lines)) if i < index and _indent(lines[i]) == needed),
                             None)
            along = f", in line with '{_key_text(lines[neighbour])}' on line {neighbour + 1}" if neighbour is not None \
                else ""
            return SyntaxProblem(f"the indentation of '{_key_text(lines[index])}' is off: it is indented by {now} "
                                 f"space{'s' if now != 1 else ''}; did you mean {needed}{along}?", index + 1)
        if "mapping values are not allowed" in problem:
            return SyntaxProblem("a second ':' in one value: quote the value (key: \"a: b\"), or put each key on "
                                 "its own line", line + 1)
        return SyntaxProblem("the indentation here does not fit the lines above: the keys of one mapping must "
                             "line up, and a value on its own lines must be indented more than its key", line + 1)
    words = " ".join(filter(None, [context, problem])) or str(error)
    return SyntaxProblem(f"not valid YAML: {words}", (line or 0) + 1 if mark is not None else None)
