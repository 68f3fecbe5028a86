"""The indentation hint is right or absent: for every key line of every shipped pipeline moved
by ±1 or ±2 spaces so that the file no longer parses, the line and indentation the error
names, applied, give back exactly the pipeline that was written; where two fixes are equally
likely, no hint is given (framework/configuration/yaml_errors.py). CI checks a seeded sample of
the cases, every pipeline among them; OVERPARAM_SLOW=1 checks all of them (about a thousand).
"""
from __future__ import annotations

import os
import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from framework.configuration.pipeline import structural_problems
from framework.configuration.source import PipelineError, read_source

ROOT = Path(__file__).resolve().parents[1]
PIPELINES = sorted([*ROOT.glob("pipelines/*.yaml"), *ROOT.glob("pipelines/findings/*.yaml")])
HINT = re.compile(r":(\d+): the indentation of '.*?' is off: it is indented by (\d+) spaces?; did you mean (\d+)")
SAMPLE = 8  # broken variants per pipeline in CI


def broken_variants(path: Path) -> Iterator[tuple[int, int, str]]:
    """(line, shift, text) for every content line moved by ±1 or ±2 spaces that breaks the YAML."""
    lines = path.read_text().splitlines()
    for index, line in enumerate(lines):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        for shift in (-2, -1, 1, 2):
            if indent + shift < 0:
                continue
            changed = list(lines)
            changed[index] = " " * (indent + shift) + line.lstrip(" ")
            text = "\n".join(changed)
            try:
                yaml.safe_load(text)
            except yaml.YAMLError:
                yield index + 1, shift, text


def hint_applied(text: str) -> str | None:
    """The text with the error's hint applied, or None when the error gives no hint."""
    with pytest.raises(PipelineError) as error:
        read_source(text, plausibility=structural_problems)
    found = HINT.search(str(error.value))
    if found is None:
        return None
    lines = text.splitlines()
    index, needed = int(found.group(1)) - 1, int(found.group(3))
    lines[index] = " " * needed + lines[index].lstrip(" ")
    return "\n".join(lines)


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_hint_gives_back_the_pipeline_as_written(path: Path) -> None:
    cases = list(broken_variants(path))
    if os.environ.get("OVERPARAM_SLOW") != "1":
        cases = random.Random(str(path.relative_to(ROOT))).sample(cases, min(SAMPLE, len(cases)))
    written = yaml.safe_load(path.read_text())
    hinted = 0
    for line, shift, text in cases:
        fixed = hint_applied(text)
        if fixed is not None:
            hinted += 1
            assert yaml.safe_load(fixed) == written, f"line {line} moved by {shift:+d}: the hint gives another pipeline"
    assert hinted >= len(cases) // 2  # most mistakes still get a hint


def test_a_key_moved_under_its_neighbour_gets_no_hint_that_repeats_a_key() -> None:
    """The case that was wrong: `seed: 3` of the grid indented by 1. Indenting it to 0 would make
    a second top-level `seed`, so the hint is 2, in line with the grid's other axes."""
    text = (ROOT / "pipelines" / "quickstart.yaml").read_text().replace("\n  seed: 3", "\n seed: 3")
    fixed = hint_applied(text)
    assert fixed is not None and yaml.safe_load(fixed) == yaml.safe_load((ROOT / "pipelines" / "quickstart.yaml").read_text())
