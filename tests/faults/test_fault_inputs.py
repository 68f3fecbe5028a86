"""Bad inputs: the hand-written broken corpus and generated mutations of a valid pipeline.

Every one ends with exit status 2 and findings of the form ``file:line key.path: message``
(or exit 0 for a mutation that happens to be valid, which must then validate cleanly), never
a traceback, and writes nothing: neither ``validate`` nor ``run`` leaves a file behind.
"""
from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fault_runs import record
from framework.cli.commands import main
from mutations import key_paths, parent_of

TESTS = Path(__file__).resolve().parents[1]
BROKEN = sorted((TESTS / "broken_pipelines").glob("*.yaml"))
VALID = (TESTS / "valid_pipelines" / "tiny.yaml").read_text()
# names a key path: plain keys, [N] items, and odd keys quoted as format_path quotes them (['a b'], [']'])
KEYED_FINDING = re.compile(r"""^mutant\.yaml:\d+ (?:\[(?:\d+|'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\]|[^\s\[\]])+: \S""")
LINE_FINDING = re.compile(r"^mutant\.yaml(:\d+)?: \S")  # a file or a line that no key can name
FULL_MUTATIONS = 1000
CI_MUTATIONS = 150


def invoke_in(directory: Path, *args: str) -> Result:
    """The command line, in this process, with ``directory`` as the working directory."""
    previous = os.getcwd()
    os.chdir(directory)
    try:
        return CliRunner().invoke(main, list(args))
    finally:
        os.chdir(previous)


def expected_key(path: Path) -> str:
    """The corpus file's ``# expect: ...`` line: the key path (or ``line N`` / ``file``) its error must cite."""
    return path.read_bytes().split(b"\n", 1)[0].decode().removeprefix("# expect: ").strip()


def cites(stderr: str, name: str, expect: str) -> bool:
    if expect == "file":
        return re.search(rf"^{re.escape(name)}: \S", stderr, re.M) is not None
    if expect.startswith("line "):
        return re.search(rf"^{re.escape(name)}:{expect.removeprefix('line ')}: \S", stderr, re.M) is not None
    return re.search(rf"^{re.escape(name)}:\d+ {re.escape(expect)}: \S", stderr, re.M) is not None


def test_every_broken_corpus_file_exits_2_naming_its_key_with_no_traceback_and_no_file(tmp_path: Path):
    counts = Counter()
    for source in BROKEN:
        directory = tmp_path / source.stem
        directory.mkdir()
        (directory / source.name).write_bytes(source.read_bytes())
        for command in ("validate", "plan", "run"):
            result = invoke_in(directory, command, source.name)
            assert result.exit_code == 2, (source.name, command, result.output)
            assert isinstance(result.exception, SystemExit), (source.name, command, repr(result.exception))
            assert "Traceback" not in result.output, (source.name, command)
            assert cites(result.stderr, source.name, expected_key(source)), (source.name, command, result.stderr)
            counts[command] += 1
        assert [p.name for p in directory.rglob("*")] == [source.name], source.name
        counts["files"] += 1
    assert counts["files"] == len(BROKEN) >= 80
    record("broken_corpus", files=counts["files"], invocations=sum(counts[c] for c in ("validate", "plan", "run")),
           exit_2=counts["validate"] + counts["plan"] + counts["run"], tracebacks=0, files_written=0)


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=12),
                    st.sampled_from(["${grid.m}", "${grid.nope}", "0.05/m", "2**m**m", "__import__('os')", "gd",
                                     "loss", "!!python/object/apply:os.system ['touch pwned']", "../../escape.zarr",
                                     "/dev/null", "1e309", "-0.0", "nan", "m/0"]))
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=4), st.dictionaries(st.text(max_size=6), SCALARS, max_size=3))
TAGS = ["!!python/object/apply:os.system ['touch pwned']", "!!python/name:os.system", "!!binary aGVsbG8=",
        "&a [*a]", "!!set {a, b}", "!!timestamp 2001-12-14", "? [complex, key]\n: 1"]


@st.composite
def mutants(draw: st.DrawFn) -> tuple[str, bool]:
    """The valid tiny pipeline after one to four edits; returns the text and whether an edit
    was made to the text itself (so a finding may cite a line rather than a key)."""
    text = VALID
    for _ in range(draw(st.integers(1, 4))):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            break
        if not isinstance(data, dict) or not data:
            break
        paths = key_paths(data)
        path = draw(st.sampled_from(paths))
        parent = parent_of(data, path)
        edit = draw(st.sampled_from(["delete", "retype", "rename", "duplicate", "text", "tag"]))
        if edit == "delete":
            del parent[path[-1]]
        elif edit == "retype":
            parent[path[-1]] = draw(VALUES)
        elif edit == "rename" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = parent.pop(path[-1])
        elif edit == "duplicate" and isinstance(parent, list):
            parent.append(parent[path[-1]])
        if edit in ("text", "tag"):
            lines = text.split("\n")
            at = draw(st.integers(0, len(lines) - 1))
            insert = draw(st.text(max_size=10)) if edit == "text" else f"x: {draw(st.sampled_from(TAGS))}"
            lines.insert(at, insert)
            return "\n".join(lines), True  # the last edit: the text may no longer parse, or parse to a cycle
        else:
            text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    return text, False


def run_mutations(examples: int, root: Path) -> Counter:
    """Validate ``examples`` mutants (then ``run`` each invalid one), checking each; the tally."""
    counts: Counter = Counter()

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(mutants())
    def check(mutant: tuple[str, bool]) -> None:
        text, textual = mutant
        counts["attempts"] += 1  # hypothesis replays failing examples: each call gets its own folder
        directory = root / f"m{counts['attempts']}"
        directory.mkdir()
        (directory / "mutant.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
        result = invoke_in(directory, "validate", "mutant.yaml")
        assert result.exit_code in (0, 2), (result.exit_code, result.output, repr(result.exception))
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        assert "Traceback" not in result.output
        if result.exit_code == 0:
            assert result.stderr == "" and "valid pipeline" in result.stdout
            counts["valid"] += 1
        else:
            findings = result.stderr.rstrip("\n").split("\n")
            assert all(KEYED_FINDING.match(f) or LINE_FINDING.match(f) for f in findings), result.stderr
            keyed = any(KEYED_FINDING.match(f) for f in findings)
            assert keyed or textual, result.stderr  # an edit of the data is always named by a key
            counts["keyed" if keyed else "line_only"] += 1
            ran = invoke_in(directory, "run", "mutant.yaml")
            assert ran.exit_code == 2 and "Traceback" not in ran.output, ran.output
            counts["invalid"] += 1
        assert [p.name for p in directory.rglob("*")] == ["mutant.yaml"]
        counts["mutants"] += 1

    check()
    return counts


def _mutation_test(examples: int, tmp_path: Path) -> None:
    counts = run_mutations(examples, tmp_path)
    assert counts["mutants"] >= examples
    assert counts["valid"] + counts["invalid"] == counts["mutants"]
    record("mutations", mutants=counts["mutants"], exit_2=counts["invalid"], exit_0_valid=counts["valid"],
           keyed=counts["keyed"], line_only=counts["line_only"], tracebacks=0, files_written=0)


def test_generated_mutations_exit_0_or_2_naming_the_key_and_write_nothing(tmp_path: Path):
    _mutation_test(CI_MUTATIONS, tmp_path)


@pytest.mark.slow
def test_a_thousand_generated_mutations_exit_0_or_2_naming_the_key_and_write_nothing(tmp_path: Path):
    _mutation_test(FULL_MUTATIONS, tmp_path)
