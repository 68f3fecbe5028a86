"""What overparam reads, loads, listens on and writes: the boundaries a user relies on.

Pipelines are data (security grep), sizes are bounded by a memory estimate (``--force``
overrides), store paths are relative to the pipeline file and nothing is written outside the
store, plugin autoloading can be switched off and plugins blocked, the local cluster listens
on 127.0.0.1, and ``show`` reads a store it cannot write.
"""
from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

import framework.execution.memory
from fault_runs import record
from framework.cli.commands import main
from framework.execution.cluster import ClusterOptions, connect, dashboard_available
from framework.planning.plan import plan_file
from framework.execution.memory import estimate_memory
from scans import ROOT, TINY, overparam, write_pipeline

HUGE = TINY.replace("m: [24, 40]", "m: [24, 400000]")


def files_under(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()}


def test_no_unsafe_loading_or_evaluation_in_the_code():
    """No ``yaml.load`` without the safe loader, no eval/exec/pickle of anything a user gives."""
    unsafe = re.compile(r"yaml\.(unsafe_)?load\((?!.*SafeLoader)|\beval\(|\bexec\(|pickle\.loads?\(|marshal\.loads?\(|"
                        r"yaml\.(Full|Unsafe)?Loader\b(?<!Safe)")
    hits = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
            for folder in ("framework", "plugins") for path in (ROOT / folder).rglob("*.py")
            for number, line in enumerate(path.read_text().splitlines(), 1) if unsafe.search(line)]
    assert hits == []


def test_a_scan_larger_than_memory_is_refused_before_it_starts_with_the_estimate(tmp_path: Path):
    pipeline = write_pipeline(tmp_path, HUGE)
    out = overparam("run", str(pipeline))
    assert out.returncode == 2, out.stderr
    assert re.search(r"^pipeline\.yaml:\d+ stages\.init\.params\.m: the scan would need about [\d,.]+ GiB of RAM",
                     out.stderr, re.M), out.stderr
    assert "m=400000" in out.stderr and "--force" in out.stderr and "Traceback" not in out.stderr
    assert files_under(tmp_path) == {"pipeline.yaml"}
    estimate = estimate_memory(plan_file(pipeline), ClusterOptions(workers=2))
    assert estimate is not None and not estimate.fits
    record("memory_refusal", estimate_gib=round(estimate.peak_bytes / 1024**3, 1),
           available_gib=round(estimate.available_bytes / 1024**3, 1))


def test_force_runs_a_scan_the_estimate_refuses(tmp_path: Path, monkeypatch):
    """With the machine's memory made to look tiny, the small scan is refused, then forced."""
    monkeypatch.setattr(framework.execution.memory, "available_memory", lambda gpus: (1024, "RAM"))
    pipeline = write_pipeline(tmp_path, TINY)
    refused = CliRunner().invoke(main, ["run", str(pipeline), "--workers", "1", "--quiet"])
    assert refused.exit_code == 2 and "the scan would need about" in refused.stderr
    assert not (tmp_path / "tiny.zarr").exists()
    forced = CliRunner().invoke(main, ["run", str(pipeline), "--workers", "1", "--quiet", "--force"])
    assert forced.exit_code == 0, forced.output
    assert "4 done" in forced.stdout


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    """One run of the tiny pipeline with ``--dashboard``, its file in ``pipelines/`` naming the
    store ``../results/tiny.zarr``, started from an empty ``cwd/`` with ``TMPDIR=scratch/``."""
    root = tmp_path_factory.mktemp("scanned")
    pipelines, cwd, scratch = root / "pipelines", root / "cwd", root / "scratch"
    for folder in (pipelines, cwd, scratch):
        folder.mkdir()
    pipeline = write_pipeline(pipelines, TINY.replace("store: tiny.zarr", "store: ../results/tiny.zarr"))
    out = subprocess.run([sys.executable, "-m", "framework.cli.commands", "run", str(pipeline), "--workers", "1", "--quiet",
                          "--dashboard"], cwd=cwd, capture_output=True, text=True, timeout=240,
                         env={**os.environ, "TMPDIR": str(scratch), "PYTHONDONTWRITEBYTECODE": "1"})
    assert out.returncode == 0, out.stderr
    return root, out


def test_the_store_path_is_relative_to_the_pipeline_file_and_nothing_else_is_written(scanned):
    root, _ = scanned
    written = files_under(root) - {"pipelines/pipeline.yaml"}
    outside = {f for f in written if not f.startswith(("results/tiny.zarr/", "scratch/"))}
    assert outside == set(), outside
    assert any(f.startswith("results/tiny.zarr/") for f in written)
    assert list((root / "cwd").iterdir()) == []
    record("paths", files_in_store=sum(f.startswith("results/tiny.zarr/") for f in written),
           files_outside_store_and_temp=len(outside), files_in_cwd=0)


@pytest.fixture
def marking_distribution(tmp_path: Path, monkeypatch) -> Path:
    """An installed third-party plugin (a dist-info with an ``overparam`` entry point, on
    sys.path) whose module leaves a mark file when imported: proof of whether its code ran."""
    site = tmp_path / "site"
    site.mkdir()
    mark = tmp_path / "imported.mark"
    (site / "marking_plugin.py").write_text(f"import pathlib\npathlib.Path({str(mark)!r}).write_text('imported')\n")
    info = site / "marking_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: marking-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[overparam]\nmarking = marking_plugin\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "marking_plugin", raising=False)
    return mark


def test_autoload_off_or_a_blocked_plugin_never_runs_its_code(marking_distribution: Path, tmp_path: Path,
                                                              monkeypatch):
    pipeline = str(write_pipeline(tmp_path, TINY.replace("steps: 60", "steps: -1")))  # run stops at validation
    runs = [(["plugins", "--no-autoload"], {}), (["validate", pipeline, "--no-autoload"], {}),
            (["plan", pipeline, "--block", "marking"], {}), (["run", pipeline, "--block", "marking"], {}),
            (["run", pipeline], {"OVERPARAM_DISABLE_PLUGIN_AUTOLOAD": "1"}),
            (["plugins"], {"OVERPARAM_DISABLE_PLUGIN_AUTOLOAD": "1"})]
    for args, env in runs:
        result = CliRunner(env=env).invoke(main, args)
        assert isinstance(result.exception, (SystemExit, type(None))), repr(result.exception)
        assert not marking_distribution.exists(), args
    loaded = CliRunner().invoke(main, ["plugins"])  # the control: autoloaded, its code runs
    assert marking_distribution.read_text() == "imported", loaded.output


def test_plugins_shows_the_file_of_a_module_named_by_a_pipeline():
    data = ROOT / "tests" / "data"
    out = overparam("plugins", "--plugin", "flaky_plugin", env={"PYTHONPATH": str(data)})
    line = next(line for line in out.stdout.splitlines() if line.split()[:1] == ["flaky"])
    assert f"module flaky_plugin ({data / 'flaky_plugin.py'})" in line
    verbose = overparam("plugins", "-v")
    assert f"file: {ROOT / 'plugins' / 'separable.py'}" in verbose.stdout


def test_the_local_cluster_listens_on_localhost_only():
    with connect(ClusterOptions(workers=1, threads=1), "cpu") as (client, _):
        info = client.scheduler_info()
        assert client.scheduler.address.startswith("tcp://127.0.0.1:")
        assert all(address.startswith("tcp://127.0.0.1:") for address in info["workers"])
        scratch = client.run(lambda dask_worker: dask_worker.local_directory)
        assert all(Path(d).is_relative_to(tempfile.gettempdir()) for d in scratch.values())


@pytest.mark.skipif(not dashboard_available(), reason="the dashboard needs bokeh (pip install 'overparam[dashboard]')")
def test_a_local_cluster_serves_its_dashboard_only_when_asked():
    """Without ``--dashboard`` the scheduler builds no dashboard (bokeh's pages cost 0.4 s of
    imports at every start); its HTTP server still answers, with the status page missing."""
    import urllib.error
    import urllib.request

    def status_page(client) -> int:
        host_port = client.scheduler.address.split("://")[1].rsplit(":", 1)[0]
        port = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.http_server.port)
        try:
            with urllib.request.urlopen(f"http://{host_port}:{port}/status", timeout=10) as answer:
                return answer.status
        except urllib.error.HTTPError as error:
            return error.code

    with connect(ClusterOptions(workers=1, threads=1, dashboard=True), "cpu") as (client, _):
        assert status_page(client) == 200
    with connect(ClusterOptions(workers=1, threads=1), "cpu") as (client, _):
        assert status_page(client) == 404


def test_dashboard_address_is_printed_or_its_absence_explained(scanned):
    _, out = scanned
    if dashboard_available():
        assert re.search(r"^dashboard: http://127\.0\.0\.1:\d+/status", out.stdout, re.M), out.stdout
    else:
        assert "dashboard: not started, bokeh is not installed" in out.stdout and "overparam[dashboard]" in out.stdout


WATCH_WRITES = """
import os, sys
store = os.path.realpath(sys.argv[1])
writes = []
CHANGES = {"os.rename", "os.replace", "os.remove", "os.mkdir", "os.rmdir", "os.truncate", "os.chmod"}
def watch(event, args):
    if event != "open" and event not in CHANGES:  # first: the hook sees every event of the interpreter
        return
    path = os.path.realpath(str(args[0])) if args and isinstance(args[0], (str, bytes, os.PathLike)) else ""
    if not path.startswith(store):
        return
    if event == "open":
        mode, flags = args[1], args[2]
        if (mode and set(str(mode)) & set("wax+")) or (flags or 0) & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            writes.append((event, path))
    else:
        writes.append((event, path))
sys.addaudithook(watch)
from framework.cli.commands import main
try:
    main(sys.argv[2:])
except SystemExit as stop:
    print("writes:", len(writes), writes[:3])
    raise
"""


def test_show_and_report_read_a_store_they_cannot_write(scanned, tmp_path: Path):
    """``show`` and ``report`` on a store made read-only (chmod -R a-w) work, open no file of
    the store for writing (seen through Python's audit hooks, since root ignores file modes)
    and change none."""
    store = tmp_path / "tiny.zarr"
    shutil.copytree(scanned[0] / "results" / "tiny.zarr", store)
    for path in [store, *store.rglob("*")]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        before = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in store.rglob("*")}
        outputs = {}
        for command in (["show", str(store)], ["report", str(store), "--out", str(tmp_path / "report")]):
            done = subprocess.run([sys.executable, "-c", WATCH_WRITES, str(store), *command], cwd=tmp_path,
                                  capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr
            assert "writes: 0 []" in done.stdout, (command, done.stdout)
            outputs[command[0]] = done.stdout
        assert "4 done of 4" in outputs["show"]
        assert (tmp_path / "report" / "report.md").exists()
        assert {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in store.rglob("*")} == before
    finally:
        for path in [store, *store.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
