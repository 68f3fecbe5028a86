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
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Checked:
    """One ``mypy --strict`` run over the example package and the mistaken module together (the
    imports, torch, xarray, matplotlib and the framework, take most of its 30 s and are read
    once): its error lines, and where the mistaken module was."""

    errors: list[str]
    output: str
    mistaken: Path

    def errors_in(self, path: Path) -> list[str]:
        return [line for line in self.errors if Path(line.split(":")[0]).resolve().is_relative_to(path.resolve())]


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> Checked:
    """``mypy --strict`` with the project's configuration, from the repository root."""
    folder = tmp_path_factory.mktemp("mypy")
    mistaken = folder / "mistaken_claims.py"
    mistaken.write_text(MISTAKES)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--config-file", str(ROOT / "pyproject.toml"),
         "--cache-dir", str(folder / "cache"), "--no-color-output", "--no-error-summary", str(EXAMPLE),
         str(mistaken)],
        cwd=ROOT, capture_output=True, text=True, timeout=280,
    )
    output = result.stdout + result.stderr
    assert result.returncode in (0, 1), output  # 2: mypy itself failed
    return Checked([line for line in output.splitlines() if ": error:" in line], output, mistaken)


def test_the_example_plugin_passes_mypy_strict(checked: Checked) -> None:
    others = [line for line in checked.errors if line not in checked.errors_in(checked.mistaken)]
    assert not others, f"mypy --strict on {EXAMPLE.relative_to(ROOT)}:\n{checked.output}"


def test_the_check_catches_a_claim_typed_wrongly(checked: Checked) -> None:
    errors, output = checked.errors_in(checked.mistaken), checked.output
    assert errors, output
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
