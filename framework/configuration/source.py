"""Reading a pipeline file: safe YAML with the line of every key, and problems that cite them.

YAML is composed into nodes with ``yaml.SafeLoader`` (no object tags, nothing executed) and
the line of each mapping key and sequence item is recorded under its key path, so every error
can say ``quickstart.yaml:14 stages.train.params.lr: ...`` (docs/pipelines.md, "Errors").
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from framework.configuration.yaml_errors import Plausibility, explain
from framework.contract.messages import KeyPath, format_path

MAX_DEPTH = 32  # mappings and lists nested deeper than this are not a pipeline
MAX_VALUES = 100_000  # values in the file once aliases are expanded ("billion laughs")


@dataclass(frozen=True)
class Finding:
    """One thing wrong with a pipeline file, at a key path."""

    path: KeyPath
    message: str
    line: int | None = None  # where the key path cannot say it (a YAML syntax error)

    def render(self, source: Source) -> str:
        """``file:line key.path: message``; at or below an overridden key, ``file override N,
        TEXT: message`` instead (the file's line does not hold the value)."""
        message = " ".join(self.message.splitlines())  # one problem, one line
        override = source.override_at(self.path)
        if override is not None:
            path, position, text = override
            below = format_path(self.path) if self.path != path else ""
            return f"{source.name} override {position}, {text}: {below + ': ' if below else ''}{message}"
        line = self.line or source.line_of(self.path)
        where = f"{source.name}:{line}" if line else source.name
        key = format_path(self.path)
        return f"{where} {key}: {message}" if key else f"{where}: {message}"


class PipelineError(Exception):
    """Every problem found in a pipeline file, reported together."""

    def __init__(self, source: Source, findings: Iterable[Finding]):
        self.source = source
        self.findings = list(findings)
        super().__init__("\n".join(f.render(source) for f in self.findings))


@dataclass
class Source:
    """A pipeline file's text, its parsed data and the line (1-based) of each key path."""

    name: str
    text: str
    data: Any = None
    lines: dict[KeyPath, int] = field(default_factory=dict)
    directory: Path = Path(".")
    # (key path, 1-based position, text) of each override applied to ``data`` after the file was
    # read (``framework.configuration.overrides``); ``text`` stays the file's own
    overrides: tuple[tuple[KeyPath, int, str], ...] = ()

    def override_at(self, path: KeyPath) -> tuple[KeyPath, int, str] | None:
        """The last override whose key path is ``path`` or one of its parents, if any."""
        for override in reversed(self.overrides):
            if path[:len(override[0])] == override[0]:
                return override
        return None

    def line_of(self, path: KeyPath) -> int | None:
        """The line of the longest prefix of ``path`` that the file spells out."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None


def _size_problem(root: yaml.Node) -> Finding | None:
    """Why a composed file is too deep or too large once its aliases are expanded, if it is;
    found before anything walks the data, so a self-referring or exponentially aliased file
    cannot hang or exhaust the recursion of later checks."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: yaml.Node, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise _TooLarge(node, f"the file is nested more than {MAX_DEPTH} levels deep")
        if id(node) in open_nodes:
            raise _TooLarge(node, "an alias refers to a mapping or list that contains it")
        if id(node) not in sizes:
            open_nodes.add(id(node))
            children = [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else (
                node.value if isinstance(node, yaml.SequenceNode) else [])
            total = 1
            for child in children:
                total += size(child, depth + 1)
                if total > MAX_VALUES:
                    raise _TooLarge(node, f"the file holds more than {MAX_VALUES} values once its aliases are expanded")
            open_nodes.discard(id(node))
            sizes[id(node)] = total
        return sizes[id(node)]

    try:
        size(root, 0)
    except _TooLarge as problem:
        return Finding((), problem.reason, problem.node.start_mark.line + 1)
    return None


class _TooLarge(Exception):
    """A node where the file stops being a plausible pipeline, and why."""

    def __init__(self, node: yaml.Node, reason: str):
        self.node, self.reason = node, reason


def _record_lines(node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int], findings: list[Finding]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            if key in seen:
                lines[path + (key,)] = key_node.start_mark.line + 1
                findings.append(Finding(path + (key,), "duplicate key: it is given twice"))
            seen.add(key)
            lines[path + (key,)] = key_node.start_mark.line + 1
            _record_lines(value_node, path + (key,), lines, findings)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_lines(item, path + (index,), lines, findings)


def _unbuildable_line(root: yaml.Node | None) -> int | None:
    """The line of the first scalar the safe loader fails to build (``!!timestamp`` on text
    that is not a date, ``!!int`` on a word), found by building the scalars one by one."""
    stack = [root] if root is not None else []
    loader = yaml.SafeLoader("")
    while stack:
        node = stack.pop(0)
        if isinstance(node, yaml.ScalarNode):
            try:
                loader.construct_object(node, deep=True)
            except Exception:  # the loader's own failure, whatever its type
                return node.start_mark.line + 1
        elif isinstance(node, yaml.MappingNode):
            stack[:0] = [part for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            stack[:0] = list(node.value)
    return None


def read_source(text: str, name: str = "<pipeline>", directory: Path | None = None,
                plausibility: Plausibility | None = None) -> Source:
    """Parse pipeline text safely; raises ``PipelineError`` for text that is not a YAML mapping,
    for object tags or anything else the safe loader refuses, and for duplicate keys. A syntax
    error is explained in the project's words on its likeliest line (``framework.configuration.yaml_errors``),
    ``plausibility`` ranking the candidate fixes."""
    source = Source(name=name, text=text, directory=directory or Path("."))
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        too_large = _size_problem(root) if root is not None else None
        if too_large:
            raise PipelineError(source, [too_large])
        data = yaml.load(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise PipelineError(source, [Finding((), f"the file is nested too deeply (more than {MAX_DEPTH} levels)")]) from None
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark or exc.context_mark
        if exc.problem and "unhashable key" in exc.problem:
            message = "a mapping key must be a plain name, not a mapping or a list"
        else:
            message = f"YAML tags that build objects are refused ({exc.problem}): a pipeline file is data, never code"
        raise PipelineError(source, [Finding((), message, mark.line + 1 if mark else None)]) from None
    except yaml.reader.ReaderError as exc:
        line = text[:exc.position].count("\n") + 1 if isinstance(exc.position, int) else None
        what = f"character #x{exc.character:04x}: {exc.reason}" if isinstance(exc.character, int) else str(exc.reason)
        raise PipelineError(source, [Finding((), f"not valid YAML: unacceptable {what}", line)]) from None
    except yaml.MarkedYAMLError as exc:
        explained = explain(text, exc, plausibility)
        raise PipelineError(source, [Finding((), explained.message, explained.line)]) from None
    except yaml.YAMLError as exc:
        raise PipelineError(source, [Finding((), f"not valid YAML: {exc}")]) from None
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:  # a tagged scalar the loader cannot build
        line = _unbuildable_line(root)
        raise PipelineError(source, [Finding((), f"not valid YAML: a tagged value cannot be read "
                                                 f"({type(exc).__name__}: {exc})", line)]) from None
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise PipelineError(source, [Finding((), f"a pipeline file must be a YAML mapping of keys, this one is {kind}")])
    findings: list[Finding] = []
    _record_lines(root, (), source.lines, findings)
    source.data = data
    if findings:
        raise PipelineError(source, findings)
    return source


def pipeline_text(data: Mapping[str, Any]) -> str:
    """A pipeline's keys as YAML text, in their order: how a mapping given to the Python API is
    read (its errors then name lines of this text), and what a store records as the pipeline it
    ran (the file with its overrides applied), which a later run compares to resume or grow."""
    return yaml.safe_dump(dict(data), sort_keys=False, allow_unicode=True, default_flow_style=None)


def read_file(path: str | Path, plausibility: Plausibility | None = None) -> Source:
    """Read and parse a pipeline file; an unreadable file is a ``PipelineError`` too."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PipelineError(Source(name=path.name, text=""), [Finding((), f"cannot be read: {exc}")]) from None
    return read_source(text, name=path.name, directory=path.resolve().parent, plausibility=plausibility)
