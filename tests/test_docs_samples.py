"""Samples of command output in the docs, produced by those commands here. The quick start is
run as the README says (from a folder holding pipelines/quickstart.yaml); every block that
README.md or docs/*.md marks ``<!-- output of: COMMAND (...) -->`` must be that command's output
there, line for line ("…" stands for what changes from run to run, the times); and the numbers
the README quotes from the store must be the store's. A number changed in the docs, or one the
code no longer gives, fails here. The quick start's run time is quoted alike everywhere and
checked against this test's own run, which may take up to three times the quote (the other
test worker shares the two cores: 81 s in a full run against 38–41 s alone) and no less than
half of it; the benchmark tables are measurements with their command, not rerun here.
"""
from __future__ import annotations

import re
import shlex
import shutil
import time
from pathlib import Path

import pytest
import xarray as xr

from scans import ROOT, overparam

README = (ROOT / "README.md").read_text()
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKED = re.compile(r"<!-- output of: (?P<command>overparam [^(]+?) \([^)]*\) -->\n```\w*\n(?P<block>.*?)\n```", re.S)


@pytest.fixture(scope="module")
def quickstart_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """A folder where ``overparam run pipelines/quickstart.yaml`` has run, as the README's, and
    the command's wall time in seconds."""
    folder = tmp_path_factory.mktemp("quickstart")
    (folder / "pipelines").mkdir()
    shutil.copy(ROOT / "pipelines" / "quickstart.yaml", folder / "pipelines")
    start = time.perf_counter()
    done = overparam("run", "pipelines/quickstart.yaml", "--progress", "quiet", cwd=folder, timeout=300)
    assert done.returncode == 0, done.stderr
    return folder, time.perf_counter() - start


@pytest.fixture(scope="module")
def quickstart(quickstart_run: tuple[Path, float]) -> Path:
    return quickstart_run[0]


def same_line(line: str, sample: str) -> bool:
    """``line`` is what ``sample`` shows, each "…" of the sample standing for any text."""
    pattern = ".+?".join(re.escape(part) for part in sample.split("…"))
    return re.fullmatch(pattern, line) is not None


@pytest.fixture(scope="module")
def samples(quickstart: Path) -> list[tuple[Path, re.Match[str], str]]:
    """Every marked sample of README.md and docs/*.md with its command's output, each command run
    once in the quick start's folder (``overparam report`` writes the quick start's report there)."""
    marked = [(path, sample) for path in DOCUMENTS for sample in MARKED.finditer(path.read_text())]
    outputs: dict[str, str] = {}
    for _, sample in marked:
        if sample["command"] not in outputs:
            done = overparam(*shlex.split(sample["command"])[1:], cwd=quickstart, timeout=300)
            assert done.returncode == 0, done.stderr
            outputs[sample["command"]] = done.stdout
    return [(path, sample, outputs[sample["command"]]) for path, sample in marked]


def test_every_marked_sample_in_the_docs_is_its_commands_output(samples) -> None:
    """README.md and docs/*.md: a block's ``$ command`` line, if any, is not output."""
    assert {path.name for path, _, _ in samples} >= {"README.md", "plugins.md"}
    assert "overparam report pipelines/results/quickstart.zarr" in {sample["command"] for _, sample, _ in samples}
    for path, sample, output in samples:
        shown = [line for line in sample["block"].splitlines() if not line.startswith("$ ")]
        got = output.rstrip("\n").splitlines()
        mismatched = [(g, s) for g, s in zip(got, shown) if not same_line(g, s)]
        assert len(got) == len(shown) and not mismatched, (
            f"{path.name}'s sample of `{sample['command']}` is not its output:\n" + output)


INTERVAL = re.compile(r"([−-]?\d+(?:\.\d+)?)(?:, 95% interval)? \[([−-]?\d+(?:\.\d+)?), ([−-]?\d+(?:\.\d+)?)\]")


def test_every_interval_docs_report_quotes_from_the_quick_starts_report_is_in_it(samples, quickstart: Path) -> None:
    """docs/report.md's account of the quick start's verdicts quotes estimates with their
    intervals, rounded: each one is an interval of the report the quick start makes, at the
    precision quoted."""
    document = (ROOT / "docs" / "report.md").read_text()
    account = document[document.index("## The quickstart's report"):]
    report = (quickstart / "pipelines" / "results" / "quickstart.report" / "report.md").read_text()

    def numbers(match: re.Match[str]) -> tuple[float, ...]:
        return tuple(float(group.replace("−", "-")) for group in match.groups())

    measured = [numbers(m) for m in INTERVAL.finditer(report)]
    quoted = list(INTERVAL.finditer(account))
    assert len(quoted) >= 8
    for match in quoted:
        decimals = [len(g.partition(".")[2]) for g in match.groups()]
        assert any(all(round(m, d) == q for m, q, d in zip(found, numbers(match), decimals)) for found in measured), (
            match.group(), "not in the quick start's report.md")


def test_the_numbers_the_readme_quotes_from_the_quickstart_store_are_the_stores(quickstart: Path) -> None:
    ds = xr.open_zarr(str(quickstart / "pipelines" / "results" / "quickstart.zarr"))
    loss = ds.loss.dropna("step", how="all").sel(m=512).median("seed")
    assert f"{float(loss[0]):.3g} at step 0 … {float(loss[-1]):.2g} at {int(loss.step[-1])}" in README
    flips = ds.dprime_max.max("step")
    assert f"ReLU flips, dims (m, seed): {int(flips.min())} … {int(flips.max())}" in README

    def steps_without(name: str) -> int:
        other = [dim for dim in ds[name].dims if dim != "step"]
        return int(ds[name].isnull().all(other).sum())

    measured_by_loss = ds.sizes["step"] - steps_without("loss")
    assert f"`diagnose`'s {measured_by_loss} logged steps and the {steps_without('loss')} more" in README
    assert (f"(`loss` at {steps_without('loss')} of the {ds.sizes['step']}, `fresh_randomness` at "
            f"{steps_without('fresh_randomness')})") in README


QUOTED_RUN_TIME = re.compile(r"about (\d+) s for the run")
QUOTING = [ROOT / "README.md", ROOT / "docs" / "report.md", ROOT / "pipelines" / "quickstart.yaml"]
SHARED_CORES_SLOWDOWN = 3  # the run beside another test worker on two cores: 81 s once, for a quote of 40


def test_the_quick_starts_run_time_is_quoted_alike_everywhere_and_holds_beside_another_test_worker(
        quickstart_run: tuple[Path, float]) -> None:
    quoted = {path.name: [int(n) for n in QUOTED_RUN_TIME.findall(path.read_text())] for path in QUOTING}
    assert all(quoted.values()) and len({n for ns in quoted.values() for n in ns}) == 1, quoted
    [[seconds, *_], *_] = quoted.values()
    assert seconds / 2 <= quickstart_run[1] <= seconds * SHARED_CORES_SLOWDOWN, (seconds, quickstart_run[1])
