"""Samples of command output in the docs, produced by those commands here. The quick start is
run as the README says (from a folder holding pipelines/quickstart.yaml); every block that
README.md or docs/*.md marks ``<!-- output of: COMMAND (...) -->`` must be that command's output
there, line for line ("…" stands for what changes from run to run, the times); and the numbers
the README quotes from the store must be the store's. A number changed in the docs, or one the
code no longer gives, fails here.
"""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import xarray as xr

from scans import ROOT

README = (ROOT / "README.md").read_text()
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKED = re.compile(r"<!-- output of: (?P<command>overparam [^(]+?) \([^)]*\) -->\n```\w*\n(?P<block>.*?)\n```", re.S)


def command_line(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "framework.cli.commands", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder where ``overparam run pipelines/quickstart.yaml`` has run, as the README's."""
    folder = tmp_path_factory.mktemp("quickstart")
    (folder / "pipelines").mkdir()
    shutil.copy(ROOT / "pipelines" / "quickstart.yaml", folder / "pipelines")
    done = command_line(["run", "pipelines/quickstart.yaml", "--progress", "quiet"], folder)
    assert done.returncode == 0, done.stderr
    return folder


def same_line(line: str, sample: str) -> bool:
    """``line`` is what ``sample`` shows, each "…" of the sample standing for any text."""
    pattern = ".+?".join(re.escape(part) for part in sample.split("…"))
    return re.fullmatch(pattern, line) is not None


def test_every_marked_sample_in_the_docs_is_its_commands_output(quickstart: Path) -> None:
    """README.md and docs/*.md: a block's ``$ command`` line, if any, is not output."""
    samples = [(path, sample) for path in DOCUMENTS for sample in MARKED.finditer(path.read_text())]
    assert {path.name for path, _ in samples} >= {"README.md", "plugins.md"}
    for path, sample in samples:
        done = command_line(shlex.split(sample["command"])[1:], quickstart)
        assert done.returncode == 0, done.stderr
        shown = [line for line in sample["block"].splitlines() if not line.startswith("$ ")]
        got = done.stdout.rstrip("\n").splitlines()
        mismatched = [(g, s) for g, s in zip(got, shown) if not same_line(g, s)]
        assert len(got) == len(shown) and not mismatched, (
            f"{path.name}'s sample of `{sample['command']}` is not its output:\n" + done.stdout)


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
