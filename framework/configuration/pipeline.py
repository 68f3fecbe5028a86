"""A pipeline file's top level: its keys checked, its grid and stages read (docs/pipelines.md).

``parse_pipeline`` reads a parsed source (a file, YAML text or a mapping: ``pipeline_source``)
into a ``Pipeline`` or raises ``PipelineError`` listing every problem together, each with file,
line, key path, the value and what was expected. Component
names and parameters are checked per grid point by ``framework.planning.plan``.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from framework.contract.messages import did_you_mean
from framework.engine.devices import DTYPES
from framework.configuration.grid import Dimension, Grid, axis_values
from framework.configuration.source import (
    Finding,
    KeyPath,
    PipelineError,
    Source,
    pipeline_text,
    read_file,
    read_source,
)

TOP_LEVEL_KEYS = ("name", "description", "plugins", "seed", "device", "dtype", "grid", "stages", "store",
                  "max_ensemble")
STAGE_KEYS = ("plugin", "plugins", "params", "needs", "schedule", "kind")
SCHEDULE_KEYS = ("log", "every", "at")
RESERVED_AXES = ("step", "stage", "zip", "member")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
MAX_JOBS = 10_000_000  # the client keeps about a hundred bytes per grid point (its status, its place in a chunk)
MAX_LOGGED_STEPS = 100_000  # per schedule: the store keeps one slot per logged step


@dataclass(frozen=True)
class PluginRef:
    """One component named by a stage, with its raw (unresolved) parameters and where they are."""

    name: Any
    params: Mapping[str, Any]
    path: KeyPath  # where the parameters live in the file


@dataclass(frozen=True)
class StageSpec:
    """A stage as written: the component(s) it runs, what it needs, its schedule."""

    name: str
    refs: tuple[PluginRef, ...]
    needs: tuple[str, ...]
    schedule: Mapping[str, Any] | None
    kind: str | None
    many: bool  # given as `plugins:` (a list) rather than `plugin:`


@dataclass(frozen=True)
class Pipeline:
    """A pipeline file whose top level is valid."""

    source: Source
    name: str
    description: str
    plugins: tuple[str, ...]
    seed: int
    device: str
    dtype: str
    grid: Grid
    stages: dict[str, StageSpec]
    store: Path
    max_ensemble: int | None
    raw: Mapping[str, Any] = field(repr=False, default_factory=dict)
    # Names the file gives but that were refused, already reported: later checks stay quiet
    # about references to them instead of repeating the problem.
    refused_axes: frozenset[str] = frozenset()
    refused_stages: frozenset[str] = frozenset()


class _Checker:
    """Collects findings while the top level is read."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []

    def add(self, path: KeyPath, message: str) -> None:
        self.findings.append(Finding(path, message))

    def typed(self, data: Mapping[str, Any], key: str, types: type | tuple[type, ...], what: str, default: Any,
              path: KeyPath = ()) -> Any:
        value = data.get(key, default)
        if key in data and (not isinstance(value, types) or isinstance(value, bool) and bool not in _tuple(types)):
            self.add(path + (key,), f"{value!r} is not {what}")
            return default
        return value


def _tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def _read_grid(raw: Any, check: _Checker) -> Grid:
    if raw is None or raw == {}:
        check.add(("grid",), "the grid is empty: give at least one axis (or leave the key out for a single job)")
        return Grid(())
    if not isinstance(raw, dict):
        check.add(("grid",), f"{raw!r} is not a mapping of axis names to values")
        return Grid(())
    values: dict[str, list[Any]] = {}
    followers = _zip_followers(raw.get("zip"))
    for axis, given in raw.items():
        if axis == "zip":
            continue
        if not isinstance(axis, str) or not IDENTIFIER.match(axis) or axis in RESERVED_AXES:
            check.add(("grid", str(axis)), f"{axis!r} is not a valid axis name (a Python identifier, not one of "
                                           f"{', '.join(RESERVED_AXES)})")
            continue
        try:
            values[axis] = axis_values(axis, given, distinct=axis not in followers)
        except ValueError as exc:
            check.add(("grid", axis), str(exc))
    groups = _read_zip(raw.get("zip"), values, check) if "zip" in raw else []
    zipped = {axis for group in groups for axis in group}
    dimensions = []
    for axis in values:
        group = next((g for g in groups if g[0] == axis), None)
        if group is not None:
            dimensions.append(Dimension(axis, tuple(group), tuple(zip(*(values[a] for a in group)))))
        elif axis not in zipped:
            dimensions.append(Dimension(axis, (axis,), tuple((v,) for v in values[axis])))
    grid = Grid(tuple(dimensions))
    if grid.size > MAX_JOBS:
        check.add(("grid",), f"{' x '.join(str(n) for n in grid.shape)} = {grid.size} grid points: more than "
                             f"the {MAX_JOBS} a pipeline may have")
        return Grid(())
    return grid


def _zip_followers(raw: Any) -> set[str]:
    """The axes of zip groups after the first: they label no dimension, so they may repeat values
    (the zip's tuples are distinct when its first axis is)."""
    if not isinstance(raw, list):
        return set()
    return {a for group in raw if isinstance(group, list) for a in group[1:] if isinstance(a, str)}


def _read_zip(raw: Any, values: dict[str, list[Any]], check: _Checker) -> list[list[str]]:
    if not isinstance(raw, list) or not all(isinstance(g, list) for g in raw):
        check.add(("grid", "zip"), f"{raw!r} is not a list of groups of axis names, such as [[m, lr]]")
        return []
    groups, used = [], set()
    for i, group in enumerate(raw):
        path = ("grid", "zip", i)
        if not all(isinstance(a, str) for a in group):
            check.add(path, f"{group!r} is not a list of axis names")
            continue
        if len(group) < 2:
            check.add(path, f"{group!r}: a zip group needs at least two axes")
            continue
        unknown = [a for a in group if a not in values]
        if unknown:
            check.add(path, f"{unknown[0]!r} is not a grid axis{did_you_mean(str(unknown[0]), list(values))}")
            continue
        again = [a for a in group if a in used]
        if again:
            check.add(path, f"axis {again[0]!r} is already in another zip group")
            continue
        lengths = {a: len(values[a]) for a in group}
        if len(set(lengths.values())) > 1:
            check.add(path, "zipped axes must have equal lengths, got " + ", ".join(f"{a}: {n}" for a, n in lengths.items()))
            continue
        used.update(group)
        groups.append(list(group))
    return groups


def _read_plugin_list(name: str, raw: Any, check: _Checker) -> list[PluginRef]:
    path = ("stages", name, "plugins")
    if not isinstance(raw, list) or not raw:
        check.add(path, f"{raw!r} is not a non-empty list of component names (or {{name: {{params}}}} items)")
        return []
    refs = []
    for i, item in enumerate(raw):
        if isinstance(item, str):
            refs.append(PluginRef(item, {}, path + (i,)))
        elif isinstance(item, dict) and len(item) == 1:
            (plugin, params), = item.items()
            if params is None:
                params = {}
            if not isinstance(params, dict):
                check.add(path + (i, plugin), f"{params!r} is not a mapping of parameters")
                continue
            refs.append(PluginRef(plugin, params, path + (i, plugin)))
        else:
            check.add(path + (i,), f"{item!r} is not a component name or a one-key mapping {{name: {{params}}}}")
    names = [r.name for r in refs]
    for repeated in sorted({n for n in names if isinstance(n, str) and names.count(n) > 1}):
        check.add(path, f"'{repeated}' is listed twice")
    return refs


def _read_schedule(name: str, raw: Any, check: _Checker) -> Mapping[str, Any] | None:
    path = ("stages", name, "schedule")
    if raw is None:
        return None
    if not isinstance(raw, dict) or len(raw) != 1:
        check.add(path, f"{raw!r} is not one of {{log: POINTS}}, {{every: STEPS}}, {{at: [STEPS...]}}")
        return None
    (key, value), = raw.items()
    if key not in SCHEDULE_KEYS:
        check.add(path + (key,), f"unknown schedule{did_you_mean(str(key), SCHEDULE_KEYS)}; expected one of "
                                 f"{', '.join(SCHEDULE_KEYS)}")
        return None
    if key == "log":
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_LOGGED_STEPS:
            check.add(path + (key,), f"{value!r} is not a whole number of points from 1 to {MAX_LOGGED_STEPS}")
            return None
    elif key == "every":
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            check.add(path + (key,), f"{value!r} is not a positive integer")
            return None
    elif not (isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                                                         for v in value)):
        check.add(path + (key,), f"{value!r} is not a non-empty list of step numbers >= 0")
        return None
    return {key: value}


def _read_stage(name: Any, raw: Any, check: _Checker) -> StageSpec | None:
    path: KeyPath = ("stages", str(name))
    if not isinstance(name, str) or not IDENTIFIER.match(name):
        check.add(path, f"{name!r} is not a valid stage name (a Python identifier)")
        return None
    if not isinstance(raw, dict):
        check.add(path, f"{raw!r} is not a mapping with plugin/plugins, params, needs")
        return None
    for key in raw:
        if key not in STAGE_KEYS:
            check.add(path + (key,), f"unknown key{did_you_mean(str(key), STAGE_KEYS)}; a stage takes "
                                     f"{', '.join(STAGE_KEYS)}")
    if ("plugin" in raw) == ("plugins" in raw):
        check.add(path, "give exactly one of `plugin: NAME` or `plugins: [NAMES]`")
        return None
    params = raw.get("params", {}) or {}
    if not isinstance(params, dict):
        check.add(path + ("params",), f"{params!r} is not a mapping of parameter names to values")
        params = {}
    if "plugin" in raw:
        plugin = raw["plugin"]
        if not isinstance(plugin, str) or not plugin:
            check.add(path + ("plugin",), f"{plugin!r} is not a component name")
            return None
        refs = [PluginRef(plugin, params, path + ("params",))]
    else:
        if "params" in raw:
            check.add(path + ("params",), "with `plugins:` give parameters per item: plugins: [{name: {key: value}}]")
        refs = _read_plugin_list(name, raw["plugins"], check)
    needs = raw.get("needs", []) or []
    if isinstance(needs, str):
        needs = [needs]
    if not isinstance(needs, list) or not all(isinstance(n, str) for n in needs):
        check.add(path + ("needs",), f"{needs!r} is not a list of stage names")
        needs = []
    for repeated in sorted({n for n in needs if needs.count(n) > 1}):
        check.add(path + ("needs",), f"'{repeated}' is listed twice")
    kind = raw.get("kind")
    if kind is not None and not isinstance(kind, str):
        check.add(path + ("kind",), f"{kind!r} is not a component kind")
        kind = None
    return StageSpec(name, tuple(refs), tuple(needs), _read_schedule(name, raw.get("schedule"), check), kind,
                     "plugins" in raw)


def parse_pipeline(source: Source, findings: list[Finding] | None = None) -> Pipeline:
    """The pipeline a parsed source describes.

    Raises ``PipelineError`` with every top-level problem; when a ``findings`` list is given,
    the problems are appended to it instead and the best-effort pipeline is returned, so that
    later checks can report theirs together with these.
    """
    data = source.data
    check = _Checker()
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            check.add((str(key),), f"unknown key{did_you_mean(str(key), TOP_LEVEL_KEYS)}; the top level takes "
                              f"{', '.join(TOP_LEVEL_KEYS)}")
    name = data.get("name")
    if "name" not in data:
        check.add(("name",), "required (a short name for the experiment), not given")
    elif not isinstance(name, str) or not name.strip():
        check.add(("name",), f"{name!r} is not a non-empty string")
    description = check.typed(data, "description", str, "a string", "")
    plugins = check.typed(data, "plugins", list, "a list of module names", [])
    for i, module in enumerate(plugins):
        if not isinstance(module, str) or not MODULE_NAME.match(module):
            check.add(("plugins", i), f"{module!r} is not a Python module name such as my_package.plugin")
    plugins = [m for m in plugins if isinstance(m, str) and MODULE_NAME.match(m)]
    seed = check.typed(data, "seed", int, "an integer", 0)
    if seed < 0:
        check.add(("seed",), f"{seed!r} is not an integer >= 0")
    device = check.typed(data, "device", str, "a device name", "auto")
    if not DEVICE.match(device):
        check.add(("device",), f"{device!r} is not one of auto, cpu, cuda, cuda:N")
    dtype = check.typed(data, "dtype", str, "a dtype name", "float64")
    if dtype not in DTYPES:
        check.add(("dtype",), f"{dtype!r} is not one of {', '.join(DTYPES)}{did_you_mean(dtype, tuple(DTYPES))}")
    max_ensemble = check.typed(data, "max_ensemble", int, "an integer", None)
    if max_ensemble is not None and max_ensemble < 1:
        check.add(("max_ensemble",), f"{max_ensemble!r} is not an integer >= 1")
    grid = _read_grid(data["grid"], check) if "grid" in data else Grid(())
    given_axes = {str(a) for a in data["grid"] if a != "zip"} if isinstance(data.get("grid"), dict) else set()
    refused_axes = frozenset(given_axes - set(grid.axes))
    stages: dict[str, StageSpec] = {}
    raw_stages = data.get("stages")
    if "stages" not in data:
        check.add(("stages",), "required (data, init, train, diagnose, ...), not given")
    elif not isinstance(raw_stages, dict) or not raw_stages:
        check.add(("stages",), f"{raw_stages!r} is not a non-empty mapping of stage names to stages")
    else:
        for stage_name, raw in raw_stages.items():
            stage = _read_stage(stage_name, raw, check)
            if stage is not None:
                stages[stage.name] = stage
    store_text = check.typed(data, "store", str, "a path", f"results/{name if isinstance(name, str) else 'run'}.zarr")
    if "\0" in store_text or not store_text.strip():
        check.add(("store",), f"{store_text!r} is not a path")
        store_text = "results/run.zarr"
    if check.findings and findings is None:
        raise PipelineError(source, check.findings)
    if findings is not None:
        findings.extend(check.findings)
    given_stages = {str(n) for n in raw_stages} if isinstance(raw_stages, dict) else set()
    return Pipeline(source=source, name=name if isinstance(name, str) else "", description=description,
                    plugins=tuple(plugins), seed=seed, device=device, dtype=dtype, grid=grid, stages=stages,
                    store=(source.directory / store_text).resolve(), max_ensemble=max_ensemble, raw=data,
                    refused_axes=refused_axes, refused_stages=frozenset(given_stages - set(stages)))


def structural_problems(data: Any) -> int:
    """How many top-level problems parsed data has as a pipeline: ranks the candidate fixes of a
    YAML syntax error (the likeliest fix leaves a file that reads as a pipeline)."""
    if not isinstance(data, dict):
        return 1_000_000
    findings: list[Finding] = []
    try:
        parse_pipeline(Source(name="", text="", data=data), findings)
    except Exception:  # a guess that breaks the checks is an unlikely fix
        return 1_000_000
    return len(findings)


def read_pipeline_file(path: str | Path) -> Source:
    """A pipeline file read and parsed, its syntax errors explained on their likeliest line."""
    return read_file(path, plausibility=structural_problems)



def pipeline_source(pipeline: str | Path | Mapping[str, Any]) -> Source:
    """A pipeline given the Python API's ways, read and parsed: a file's path (``Path``, or a
    one-line string naming an existing file or none), YAML text (a string with a newline, or one
    that reads as a mapping), or a mapping of the file's keys. A text's or a mapping's relative
    paths (``store:``, plugin modules) are taken from the current directory, a file's from its
    folder."""
    if isinstance(pipeline, Mapping):
        import yaml

        try:
            text = pipeline_text(pipeline)
        except yaml.YAMLError as error:
            raise PipelineError(Source(name="<dict>", text=""), [Finding((), f"the mapping is not a pipeline's "
                                                                             f"plain data (numbers, text, lists, "
                                                                             f"mappings): {error}")]) from None
        return read_source(text, name="<dict>", directory=Path.cwd(), plausibility=structural_problems)
    if isinstance(pipeline, str) and ("\n" in pipeline or (not Path(pipeline).exists() and _reads_as_mapping(pipeline))):
        return read_source(pipeline, name="<text>", directory=Path.cwd(), plausibility=structural_problems)
    return read_pipeline_file(pipeline)


def _reads_as_mapping(text: str) -> bool:
    """Whether one line of text is a YAML mapping (``{name: x, stages: ...}``) rather than a path."""
    import yaml

    try:
        return isinstance(yaml.safe_load(text), dict)
    except yaml.YAMLError:
        return False
