"""The command line as a researcher meets it: fast start-up, one line on Ctrl-C, a quick clear
failure for an unreachable scheduler, syntax errors in the project's words."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import xarray as xr
from click.testing import CliRunner

from framework.cli.commands import main
from scans import ROOT, SLOW, TINY, overparam, write_pipeline

QUICKSTART = ROOT / "pipelines" / "quickstart.yaml"  # started by the tests of start-up time


def started(*args: str) -> tuple[float, subprocess.CompletedProcess]:
    begin = time.perf_counter()
    done = overparam(*args, timeout=60)
    return time.perf_counter() - begin, done


@pytest.mark.parametrize("args", [("--help",), ("validate", str(QUICKSTART)), ("plan", str(QUICKSTART))])
def test_help_validate_and_plan_start_without_the_heavy_libraries_and_quickly(args):
    # a generous bound against a shared CI machine; measured here: 0.1 s, 0.35 s, 0.5 s (2.4-3.6 s before)
    seconds, done = started(*args)
    assert done.returncode == 0, done.stderr
    assert seconds < 2.0, f"overparam {' '.join(args)} took {seconds:.2f} s"


def test_validate_never_imports_torch_dask_or_xarray():
    script = ("import sys\nfrom framework.cli.commands import main\n"
              f"main(['validate', {str(QUICKSTART)!r}], standalone_mode=False)\n"
              "torch = sys.modules.get('torch')\n"
              "print(type(torch).__name__ if torch is not None else 'absent', "
              "'distributed' in sys.modules, 'xarray' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    # torch is imported lazily: a stand-in until some code uses it, which validation never does
    assert done.stdout.split()[-3:] == ["DeferredModule", "False", "False"]


def test_ctrl_c_prints_one_line_saying_what_is_kept_and_exits_130_quickly(tmp_path):
    pipeline = write_pipeline(tmp_path, SLOW)
    store = tmp_path / "slow.zarr"
    run = subprocess.Popen([sys.executable, "-m", "framework.cli.commands", "run", str(pipeline), "--max-ensemble", "1",
                            "--progress", "plain"], cwd=ROOT, start_new_session=True, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    assert run.stdout is not None
    for line in run.stdout:  # wait for a first finished point, as a person watching would
        lines.append(line.rstrip("\n"))
        if line.startswith("[1/8]"):
            break
    interrupted = time.perf_counter()
    os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C on a terminal sends: the whole process group
    rest, _ = run.communicate(timeout=60)
    seconds = time.perf_counter() - interrupted
    lines += rest.splitlines()
    assert run.returncode == 130
    assert seconds < 10, f"the run took {seconds:.1f} s to stop"
    phases = ("starting a local Dask cluster", "running 8 grid points in 8 tasks")
    progress = [line for line in lines if line.startswith("[") or line.startswith(phases)]
    others = [line for line in lines if line not in progress]
    assert len(others) == 1, "\n".join(others)
    (last,) = others
    done = int((xr.open_zarr(str(store))["status"] == 1).sum())
    assert last.startswith("interrupted after ") and f"{done} of 8 grid points are kept in {store}" in last
    assert last.endswith("run the same command again to resume")
    assert xr.open_zarr(str(store)).attrs["finished_at"] == ""  # an interrupted run has not finished
    shown = overparam("show", str(store))
    assert shown.returncode == 0 and "interrupted: the last run (started " in shown.stdout, shown.stdout


def test_an_unreachable_scheduler_fails_within_the_timeout_with_one_line_and_leaves_nothing(tmp_path):
    folder = tmp_path / "experiment"
    folder.mkdir()
    pipeline = write_pipeline(folder, SLOW)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    seconds, done = started("run", str(pipeline), "--scheduler", address, "--timeout", "1")
    assert done.returncode == 2
    errors = done.stderr.strip().splitlines()
    assert errors == [f"{pipeline}: cannot reach the Dask scheduler at {address}: connection refused (tried TCP to "
                      f"127.0.0.1:{port} for 1 s); start one with `dask scheduler`, check the address, or pass "
                      "--timeout SECONDS to wait longer"]
    assert seconds < 15
    assert sorted(p.name for p in folder.iterdir()) == ["pipeline.yaml"]


def invoke_validate(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    return result.output.strip().splitlines()


INDENTED = """\
name: indented
grid:
  m: [64, 128]
stages:
  data: {plugin: separable, params: {n: 8, L: 8, d_x: 8, d: 4, delta: 0.3}}
  init: {plugin: paper, params: {m: "${grid.m}"}}
  train: {plugin: gd, params: {steps: 100, lr: 0.05/m}, needs: [data, init]}
  diagnose:
    plugins: [loss, pl_ratio]
    schedule: {log: 30}
    needs: [train]
  summary: {plugins: [rate], needs: [train]}
"""


def reindented(line: int, spaces: int) -> str:
    lines = INDENTED.splitlines()
    lines[line - 1] = " " * spaces + lines[line - 1].strip()
    return "\n".join(lines) + "\n"


def test_the_correctly_indented_file_is_valid(tmp_path):
    path = tmp_path / "indented.yaml"
    path.write_text(INDENTED)
    assert CliRunner().invoke(main, ["validate", str(path)]).exit_code == 0


@pytest.mark.parametrize("spaces", [2, 3, 5, 6])
def test_a_key_indented_wrongly_is_pointed_at_on_its_own_line_with_the_fix(tmp_path, spaces):
    # at 2 spaces PyYAML stops at line 11; the mistake is on line 10
    output = invoke_validate(tmp_path, reindented(10, spaces))
    assert output == [f"broken.yaml:10: the indentation of 'schedule' is off: it is indented by {spaces} spaces; "
                      "did you mean 4, in line with 'plugins' on line 9?"]


def test_a_stage_name_indented_too_little_is_found_above_where_the_parser_stopped(tmp_path):
    output = invoke_validate(tmp_path, reindented(8, 0))
    assert output == ["broken.yaml:8: the indentation of 'diagnose' is off: it is indented by 0 spaces; did you "
                      "mean 2, in line with 'train' on line 7?"]


@pytest.mark.parametrize("text, expected", [
    ("name: q\nstages:\n  data: {plugin: separable, params: {n: 8, L: 8\n  init: x\n",
     "broken.yaml:3: the '{' opened on this line is not closed where it should be: a '}' is missing, or a ',' "
     "between its items (the parser stopped at line 4)"),
    ("name: q\n\tstages: 1\n",
     "broken.yaml:2: a tab is used for indentation: YAML indents with spaces only; replace the tab with spaces"),
    ('name: "q\nstages: 1\n', "broken.yaml:1: a quote opened on this line is never closed: add the closing quote"),
    ("name: q\nstages: {a: 1}}\n",
     "broken.yaml:2: a '}' here closes nothing: remove it, or add the opening bracket it belongs to"),
])
def test_common_syntax_errors_are_told_in_the_projects_words(tmp_path, text, expected):
    assert invoke_validate(tmp_path, text) == [expected]


def test_a_decimal_comma_and_a_bound_are_told_in_the_projects_words(tmp_path):
    text = ("name: q\nstages:\n  data: {plugin: separable, params: {n: 8, L: 8, d_x: 8, d: 4, delta: -0.3}}\n"
            "  init: {plugin: paper, params: {m: 64}}\n  train:\n    plugin: gd\n    params:\n      steps: 100\n"
            "      lr: 0,05/m\n    needs: [data, init]\n")
    output = invoke_validate(tmp_path, text)
    assert "broken.yaml:3 stages.data.params.delta: -0.3: should be greater than 0" in output
    (comma,) = [line for line in output if "params.lr" in line]
    assert comma.startswith("broken.yaml:9 stages.train.params.lr: '0,05/m'")
    assert "a comma is not part of a number: decimals take a point" in comma and comma.endswith("did you mean 0.05/m?")
    assert "leading zeros" not in comma and "Input should" not in " ".join(output)


def test_a_run_beside_another_cluster_prints_no_port_warning(tmp_path):
    # another cluster (or anything) on Dask's default dashboard port 8787: a run used to warn
    # "Port 8787 is already in use. Perhaps you already have a cluster running?"
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            other.bind(("127.0.0.1", 8787))
        except OSError:
            pass  # already taken, which is the situation to test
        else:
            other.listen()
        done = overparam("run", str(write_pipeline(tmp_path, TINY)), "--quiet")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_a_syntax_error_near_a_tagged_value_the_loader_cannot_build_is_still_explained(tmp_path):
    # found by the fault suite's mutations: a candidate fix re-indented `!!timestamp 2001-12-14`
    # into a place where the safe loader fails with an AttributeError, not a YAML error
    text = INDENTED.replace("    needs: [train]\n  summary", "    needs:\nx: !!timestamp 2001-12-14\n"
                                                            "    - train\n    - data\n  summary")
    output = invoke_validate(tmp_path, text)
    assert len(output) == 1 and output[0].startswith("broken.yaml:")
