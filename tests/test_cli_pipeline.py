"""``overparam validate`` and ``overparam plan``: shipped pipelines pass and expand to the jobs
their grids span; broken and randomly mutated files exit 2 naming file, line and key path,
never with a traceback, and nothing is written."""
from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from framework.cli.commands import main
from mutations import key_paths, parent_of

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "pipelines").glob("*.yaml"))
BROKEN = sorted((Path(__file__).parent / "broken_pipelines").glob("*.yaml"))
TINY = Path(__file__).parent / "valid_pipelines" / "tiny.yaml"
SHIPPED_NAMES = {"quickstart", "width", "depth", "separation", "optimizers", "digits"}


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def expected_jobs(path: Path) -> int:
    """The number of grid points, from the YAML read here: each axis a factor (an integer
    ``seed: N`` counts N), a zip group one factor of its common length."""
    grid = yaml.safe_load(path.read_text()).get("grid", {})
    followers = {axis for group in grid.get("zip", []) for axis in group[1:]}
    sizes = [value if axis == "seed" and isinstance(value, int) else len(value)
             for axis, value in grid.items() if axis != "zip" and axis not in followers]
    return math.prod(sizes)


def plan_table_rows(output: str) -> list[str]:
    """The job rows of ``overparam plan``: the lines after the table header, up to the blank line."""
    lines = output.splitlines()
    start = lines.index("jobs:") + 2
    end = lines.index("", start)
    return lines[start:end]


def assert_clean_exit(result: Result) -> None:
    """Exit 0 or 2 through ``SystemExit``, never an escaped exception or a traceback."""
    assert result.exit_code in (0, 2), (result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output


def test_every_issue_pipeline_is_shipped():
    assert SHIPPED_NAMES <= {path.stem for path in SHIPPED}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_pipeline_validates(path: Path):
    result = invoke("validate", str(path))
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert f"{expected_jobs(path)} job" in result.stdout


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_plan_lists_one_row_per_grid_point(path: Path):
    result = invoke("plan", "--all", str(path))
    assert result.exit_code == 0, result.output
    rows = plan_table_rows(result.stdout)
    assert len(rows) == expected_jobs(path)
    assert [row.split()[0] for row in rows] == [str(i) for i in range(len(rows))]
    assert f"{len(rows)} job" in result.stdout.splitlines()[0]


def test_plan_draws_each_stage_with_its_needs_in_dependency_order():
    result = invoke("plan", str(ROOT / "pipelines" / "quickstart.yaml"))
    dag = result.stdout.split("stage DAG (dependency order):\n")[1].splitlines()
    stages = yaml.safe_load((ROOT / "pipelines" / "quickstart.yaml").read_text())["stages"]
    names = [line.split()[0] if not line.strip().startswith("└─") else line.split()[1] for line in dag]
    assert sorted(names) == sorted(stages)
    for name, line in zip(names, dag):
        for need in stages[name].get("needs", []):
            assert names.index(need) < names.index(name)
            assert need in line.split("<-")[1]
    assert "3 distinct for 12 jobs, each made once per worker" in dag[names.index("data")]


def expectation(path: Path) -> str:
    """The first line of a corpus file: ``# expect: KEY.PATH``, ``# expect: line N`` or ``# expect: file``."""
    first = path.read_bytes().split(b"\n", 1)[0].decode()
    assert first.startswith("# expect: "), f"{path.name} has no expectation"
    return first.removeprefix("# expect: ").strip()


def error_pattern(name: str, expect: str) -> str:
    if expect == "file":
        return rf"^{re.escape(name)}: \S"
    if expect.startswith("line "):
        return rf"^{re.escape(name)}:{expect.removeprefix('line ')}: \S"
    return rf"^{re.escape(name)}:\d+ {re.escape(expect)}: \S"


def test_broken_corpus_is_large_and_annotated():
    assert len(BROKEN) >= 40
    for path in BROKEN:
        expectation(path)


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_broken_pipeline_exits_2_naming_the_key_and_writes_nothing(path: Path, tmp_path: Path, monkeypatch):
    copy = tmp_path / path.name
    copy.write_bytes(path.read_bytes())
    monkeypatch.chdir(tmp_path)  # a store or a file that a YAML tag would write lands here
    for command in ("validate", "plan"):
        result = invoke(command, path.name)
        assert result.exit_code == 2, result.output
        assert isinstance(result.exception, SystemExit)
        assert "Traceback" not in result.output
        assert result.stdout == ""
        assert re.search(error_pattern(path.name, expectation(path)), result.stderr, re.M), result.stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == [path.name]


@pytest.mark.parametrize("name", ["yaml_python_object_apply", "needs_cycle", "lr_unsafe_expression"])
def test_installed_command_prints_no_traceback(name: str, tmp_path: Path):
    """The real console script, in a process of its own: stderr is the findings, nothing else."""
    source = Path(__file__).parent / "broken_pipelines" / f"{name}.yaml"
    (tmp_path / source.name).write_bytes(source.read_bytes())
    command = [sys.executable, "-c", "from framework.cli.commands import main; main()", "validate", source.name]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert re.search(error_pattern(source.name, expectation(source)), done.stderr, re.M)
    assert sorted(p.name for p in tmp_path.iterdir()) == [source.name]


def test_missing_file_is_a_clean_error(tmp_path: Path):
    result = invoke("validate", str(tmp_path / "nowhere.yaml"))
    assert result.exit_code == 2
    assert result.stderr.startswith("nowhere.yaml: cannot be read")


# --- mutations of a valid file ------------------------------------------------------------

FINDING_LINE = re.compile(r"^mutant\.yaml(:\d+)?[ :]")
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 40), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(["${grid.m}", "${grid.x}", "0.05/m", "2*L", "gd", "loss"]))
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3), st.dictionaries(st.text(max_size=5), SCALARS, max_size=2))


@st.composite
def mutants(draw: st.DrawFn) -> str:
    """The tiny valid pipeline after one to three random edits of its data or its text."""
    text = TINY.read_text()
    for _ in range(draw(st.integers(1, 3))):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            break
        if not isinstance(data, dict) or not data:
            break
        paths = key_paths(data)
        edit = draw(st.sampled_from(["delete", "retype", "rename", "swap", "garbage"]))
        path = draw(st.sampled_from(paths))
        parent = parent_of(data, path)
        if edit == "delete":
            del parent[path[-1]]
        elif edit == "retype":
            parent[path[-1]] = draw(VALUES)
        elif edit == "rename" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = parent.pop(path[-1])
        elif edit == "swap":  # two names of one mapping trade places (their values stay)
            siblings = [p for p in paths if p[:-1] == path[:-1]]
            other = draw(st.sampled_from(siblings))[-1]
            parent[path[-1]], parent[other] = parent[other], parent[path[-1]]
        if edit == "garbage":
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.text(max_size=10)) + text[at:]
        else:
            text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    return text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutants())
def test_mutated_pipeline_exits_0_or_2_with_findings_in_file_line_form(text: str):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "mutant.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        result = invoke("validate", str(path))
        assert_clean_exit(result)
        if result.exit_code == 2:
            lines = result.stderr.rstrip("\n").split("\n")
            assert lines and all(FINDING_LINE.match(line) for line in lines), result.stderr
        assert sorted(p.name for p in Path(directory).iterdir()) == ["mutant.yaml"]


BIG = """\
name: big
plugins: [counting_plugin]
grid:
  m: [16, 24]
  seed: 20
stages:
  data: {plugin: separable, params: {n: 4, L: 3, d_x: 4, d: 2, delta: 0.2}}
  init: {plugin: counted_paper, params: {m: "${grid.m}", log: log.txt}}
  train: {plugin: gd, params: {steps: 5, lr: 0.05/m}, needs: [data, init]}
  watch: {plugins: [loss], needs: [train]}
store: big.zarr
"""


def test_each_distinct_stage_call_is_validated_once(tmp_path, monkeypatch):
    """40 grid points whose initializer depends on m alone: its parameters are validated twice
    (once per width), not 40 times; every job still gets them."""
    monkeypatch.syspath_prepend(str(ROOT / "tests" / "data"))
    import counting_plugin
    from framework.planning.plan import plan_file

    (tmp_path / "big.yaml").write_text(BIG)
    before = counting_plugin.VALIDATIONS["init"]
    plan = plan_file(tmp_path / "big.yaml")
    assert counting_plugin.VALIDATIONS["init"] - before == 2
    assert len(plan.jobs) == 40 and {job.init.params.m for job in plan.jobs} == {16, 24}


def test_plan_lists_the_first_and_last_jobs_of_a_large_grid_and_all_with_all(tmp_path):
    (tmp_path / "big.yaml").write_text(BIG)
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT / "tests" / "data"), os.environ.get("PYTHONPATH", "")])}
    short = subprocess.run([sys.executable, "-m", "framework.cli.commands", "plan", str(tmp_path / "big.yaml")],
                           capture_output=True, text=True, env={**os.environ, **env})
    assert short.returncode == 0, short.stderr
    table = short.stdout.split("jobs:\n")[1].split("\n\n")[0].splitlines()
    indices = [line.split()[0] for line in table[1:] if line.split()[0].isdigit()]
    assert indices == [str(i) for i in [*range(10), *range(35, 40)]]
    assert "  ..." in table and "25 jobs not listed between job 9 and job 35; overparam plan --all" in short.stdout
    every = subprocess.run([sys.executable, "-m", "framework.cli.commands", "plan", "--all", str(tmp_path / "big.yaml")],
                           capture_output=True, text=True, env={**os.environ, **env})
    rows = [line.split()[0] for line in every.stdout.split("jobs:\n")[1].split("\n\n")[0].splitlines()[1:]]
    assert rows == [str(i) for i in range(40)]


def test_a_key_ending_in_a_newline_is_quoted_so_each_finding_stays_one_line(tmp_path):
    """A quoted YAML key that folds to ``"0\\n"`` (found by the mutation test): the finding names
    it quoted, as ``['0\\n']``, on the one line of its ``file:line key: message``."""
    path = tmp_path / "newline.yaml"
    path.write_text("name: tiny\n? '0\n\n  '\n: tiny\n")
    result = invoke("validate", str(path))
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if "unknown key" in line]
    assert lines == [f"{path.name}:2 ['0\\n']: unknown key; the top level takes name, description, plugins, seed, device, "
                     "dtype, grid, stages, store, max_ensemble"]
