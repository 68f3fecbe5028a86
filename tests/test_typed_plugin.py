"""A plugin written against the public API type-checks under ``mypy --strict``.

The contract's types are real where a plugin meets them: a claim is ``Claim[Fit]``, its ``fit``
returns that ``Fit`` and ``draw``, ``numbers``, ``notes`` and ``verdict`` are given it, on a
``StoreView`` and matplotlib ``Axes``, returning an ``Assessment``. The example package
(examples/plugin) is checked strictly, with the project's ``[tool.mypy]`` configuration (which
keeps the implementation's own errors out of a plugin's check); and a plugin with typing mistakes
is checked the same way, to show the check would catch them.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mypy", reason="mypy is not installed (pip install -e '.[test]')")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "plugin" / "overparam_example"

MISTAKES = '''
from __future__ import annotations

from dataclasses import dataclass

from matplotlib.axes import Axes

from overparam import Assessment, Claim, StoreView, Verdict


@dataclass(frozen=True)
class PeakFit:
    """The largest value in the store."""

    peak: float


@dataclass(frozen=True)
class OtherFit:
    """Some other fit."""

    low: float


class PeakClaim(Claim[PeakFit]):
    """Fits a peak; each subclass below makes one mistake."""

    name = "peak"
    title = "Peak"
    paper_ref = "(1.1)"
    statement = "the peak stays put"
    figure = "peak"

    def fit(self, view: StoreView) -> PeakFit:
        return PeakFit(1.0)

    def draw(self, axes: list[Axes], view: StoreView, fitted: PeakFit) -> None:
        axes[0].plot([0.0, 1.0], [0.0, fitted.peak])

    def verdict(self, view: StoreView, fitted: PeakFit) -> Assessment:
        return Assessment(Verdict.SUPPORTED, "peak " + format(fitted.peak, ".3g"))


class VerdictAsText(PeakClaim):
    def verdict(self, view: StoreView, fitted: PeakFit) -> str:  # mistake
        return "supported"


class WrongField(PeakClaim):
    def numbers(self, view: StoreView, fitted: PeakFit) -> list[str]:
        return ["height " + format(fitted.height, ".3g")]  # mistake


class WrongFit(PeakClaim):
    def draw(self, axes: list[Axes], view: StoreView, fitted: OtherFit) -> None:  # mistake
        axes[0].plot([0.0, 1.0], [0.0, fitted.low])
'''


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the module's runs: the first run, from cold, checks the imports (torch,
    xarray, matplotlib, the framework) once; the second reuses them."""
    return tmp_path_factory.mktemp("mypy_cache")


def strict_mypy(target: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    """``mypy --strict`` on ``target`` with the project's configuration, from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--config-file", str(ROOT / "pyproject.toml"),
         "--cache-dir", str(cache), "--no-color-output", "--no-error-summary", str(target)],
        cwd=ROOT, capture_output=True, text=True, timeout=280,
    )


def test_the_example_plugin_passes_mypy_strict(mypy_cache: Path) -> None:
    result = strict_mypy(EXAMPLE, mypy_cache)
    assert result.returncode == 0, f"mypy --strict on {EXAMPLE.relative_to(ROOT)}:\n{result.stdout}{result.stderr}"


def test_the_check_catches_a_claim_typed_wrongly(tmp_path: Path, mypy_cache: Path) -> None:
    module = tmp_path / "mistaken_claims.py"
    module.write_text(MISTAKES)
    result = strict_mypy(module, mypy_cache)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    errors = [line for line in output.splitlines() if ": error:" in line]
    contract = 'supertype "framework.contract.claim.Claim"'  # Claim[PeakFit] itself, not only PeakClaim
    expected = {
        "VerdictAsText": f'Return type "str" of "verdict" incompatible with return type "Assessment" in {contract}',
        "WrongField": '"PeakFit" has no attribute "height"',
        "WrongFit": f'Argument 3 of "draw" is incompatible with {contract}; supertype defines the argument type as '
                    '"PeakFit"',
    }
    for claim, text in expected.items():
        assert any(text in line for line in errors), f"{claim}: mypy did not report {text!r}:\n{output}"
    mistakes = {number for number, line in enumerate(MISTAKES.splitlines(), 1) if line.endswith("# mistake")}
    elsewhere = [line for line in errors if int(line.split(":")[1]) not in mistakes]
    assert not elsewhere, f"mypy reported errors besides the three mistakes:\n{output}"
