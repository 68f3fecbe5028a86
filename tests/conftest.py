"""Shared fixtures: small real problems and weights made by the built-in components."""
from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from overparam import Problem, Weights  # noqa: E402
from overparam.engine import Elman
from plugins.initializers import PaperInitialization  # noqa: E402
from plugins.separable import Separable  # noqa: E402


def make_problem(seed: int = 0, **params) -> Problem:
    generator = Separable()
    return generator.generate(generator.parse_params(params), seed)


def make_weights(m: int, d_x: int, d: int, seed: int = 0) -> Weights:
    initializer = PaperInitialization()
    return initializer.initialize(initializer.parse_params({"m": m}), Elman().weight_layout(m, d_x, d), seed)


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist each worker process takes its share of the cores for torch: two
    workers each running torch on every core spin against each other (the bit-for-bit ensemble
    tests ran six times slower side by side than alone). Dask's workers set their own threads.

    Tasks run their members as one ensemble here, whatever a measurement would choose
    (``OVERPARAM_ENSEMBLE``, framework/execution/ensemble_choice.py), so the tests of the
    batched path test it at every width; tests/test_ensemble_choice.py tests the choice."""
    os.environ.setdefault("OVERPARAM_ENSEMBLE", "together")
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if os.environ.get("PYTEST_XDIST_WORKER") and workers > 1:
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


@pytest.fixture
def paper_problem() -> Problem:
    """The design's reference setup: n=8, L=8, d_x=8, d=4, δ=0.3."""
    return make_problem(0, n=8, L=8, d_x=8, d=4, delta=0.3)


def pytest_collection_modifyitems(config, items):
    if os.environ.get("OVERPARAM_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: set OVERPARAM_SLOW=1 to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def plugin_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, str], str]]:
    """Writes a module ``name`` with ``source`` into tmp_path, importable for one test."""
    monkeypatch.syspath_prepend(str(tmp_path))
    written: list[str] = []

    def write(name: str, source: str) -> str:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        written.append(name)
        return name

    yield write
    for name in written:
        sys.modules.pop(name, None)


@pytest.fixture(scope="session")
def dask_client():
    """One local cluster for the tests whose subject is not how a cluster starts: the Python
    API's shared local cluster (one worker per core, one torch thread each), so that a run
    there skips the seconds a cluster takes to start and stop."""
    from framework.api.running import shared_client

    return shared_client(None, None, "auto")


BATCH_CLUSTER_TESTS = "tests/test_slurm.py"


def pytest_terminal_summary(terminalreporter) -> None:
    """The batch-cluster tests' outcomes, a line each, at the end of the output: CI's log shows
    that they ran against the real SLURM (a skip there is a failure: tests/slurm.py)."""
    lines = [f"{report.outcome.upper():8} {report.nodeid} ({report.duration:.1f} s)"
             for reports in terminalreporter.stats.values() for report in reports
             if getattr(report, "nodeid", "").startswith(BATCH_CLUSTER_TESTS) and hasattr(report, "when")
             and (report.when == "call" or report.outcome != "passed")]
    if lines:
        terminalreporter.write_sep("-", "batch-cluster tests against a real SLURM")
        for line in lines:
            terminalreporter.write_line(line)
