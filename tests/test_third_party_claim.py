"""Report claims are plugins: a third-party claim reaches the report and ``overparam show``, a
claim whose variables the store lacks is skipped with its reason, and the registry refuses
duplicate and ill-declared claims naming their providers, like any component.

The third party is the example package (examples/plugin), named in the pipeline's ``plugins:``
list: its diagnostic ``w_spectral_norm`` and its claim ``w_norm_settles`` about it.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from overparam import Claim
from framework.plugin_system.registry import DuplicateComponentError, PluginLoadError, Registry
from framework.execution.cluster import ClusterOptions
from framework.execution.orchestrator import RunOptions, run_plan
from framework.planning.plan import plan_file
from framework.plugin_system.listing import render_plugins
from framework.report import Report, build_report
from framework.report.show import render_store
from framework.contract.verdicts import Verdict
from framework.storage.store import STATUS_CODE, ZARR_FORMAT
from scans import write_pipeline

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "plugin"
PIPELINE = """\
name: third-party-claim
plugins: [overparam_example]
grid:
  m: [16, 32, 64]
  seed: 2
stages:
  data: {plugin: separable, params: {n: 3, L: 4, d_x: 4, d: 2, delta: 0.3}}
  init: {plugin: paper, params: {m: "${grid.m}"}}
  train: {plugin: gd, params: {steps: 40, lr: 0.05/m}, needs: [data, init]}
  diagnose: {plugins: [loss, w_spectral_norm], schedule: {log: 5}, needs: [train]}
store: example.zarr
"""


def forget_example() -> None:
    """Drop the example's modules, so tests that pip-install it import their own copy."""
    for name in [name for name in sys.modules if name == "overparam_example" or name.startswith("overparam_example.")]:
        del sys.modules[name]


@pytest.fixture(scope="module")
def example_on_path() -> Iterator[None]:
    """The example package importable by name here and on the Dask workers."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(EXAMPLE))
        patch.setenv("PYTHONPATH", os.pathsep.join([str(EXAMPLE), os.environ.get("PYTHONPATH", "")]))
        yield
    forget_example()


@pytest.fixture(scope="module")
def store(example_on_path, tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("third-party")
    summary = run_plan(plan_file(write_pipeline(directory, PIPELINE)),
                       RunOptions(cluster=ClusterOptions(workers=2), progress="quiet"))
    assert summary.ok
    return directory / "example.zarr"


@pytest.fixture(scope="module")
def report(store, tmp_path_factory) -> Report:
    return build_report(store, tmp_path_factory.mktemp("report"))  # the plugins the store's pipeline named


def test_the_example_claim_appears_in_the_report_with_statement_verdict_and_figure(report):
    from overparam_example.claim import WNormSettles

    [number] = [n for n, f in enumerate(report.content.findings, 1) if f.title == WNormSettles.title]
    finding = report.content.findings[number - 1]
    md = report.markdown_path.read_text()
    assert f"## {number}. {WNormSettles.title} ({WNormSettles.paper_ref})" in md
    assert f"| {number} | [{WNormSettles.title}](#claim-{number}) | {WNormSettles.paper_ref} |" in md
    assert f"**The paper.** {WNormSettles.statement}" in md
    assert finding.assessment.verdict in set(Verdict)
    assert f"**Verdict: {finding.assessment.verdict}.** {finding.assessment.reason}" in md
    assert "the exponent of max_t |‖W_t‖_2 − 2√2| in m" in finding.assessment.reason
    assert finding.figures == ["w_spectral_norm.png"]
    assert "![The recurrent weights' spectral norm settles at 2√2](w_spectral_norm.png)" in md
    assert (report.out / "w_spectral_norm.png").stat().st_size > 10_000
    assert (report.out / "w_spectral_norm.svg").read_text().lstrip().startswith("<?xml")
    assert '<img id="figure-w_spectral_norm" src="data:image/svg+xml;base64,' in report.html_path.read_text()


def test_the_example_claims_medians_are_the_stores_numbers(store, report):
    from overparam_example.claim import EDGE

    ds = xr.open_zarr(str(store)).load()
    distance = np.abs(ds["w_spectral_norm"] - EDGE).max("step").median("seed")
    [finding] = [f for f in report.content.findings if f.figures == ["w_spectral_norm.png"]]
    expected = ", ".join(f"{m}: {value:.3g}" for m, value in zip(ds["m"].values, distance.values))
    assert f"max_t |‖W_t‖_2 − 2√2| by m (all points): {expected}" in finding.numbers


def test_claims_the_store_cannot_test_are_listed_with_their_reason(report):
    md = report.markdown_path.read_text()
    assert "- Few ReLU signs flip during training: the store has no values of `dprime_max`" in md
    assert "- GD, SGD and mini-batch all converge linearly: the grid has no `optimizer` axis" in md
    assert not (report.out / "dprime.png").exists() and (report.out / "loss.png").exists()


def test_show_has_the_example_claims_column(store):
    ds = xr.open_zarr(str(store)).load()
    text = render_store(store)
    header = next(line for line in text.splitlines() if "||W||_2" in line)
    assert header.split() == ["m", "f_T/f_0", "||W||_2"]
    final = ds["w_spectral_norm"].isel(step=-1).median("seed")
    for m, value in zip(ds["m"].values, final.values):
        assert any(line.split()[:1] == [str(m)] and line.split()[-1] == f"{value:.3g}" for line in text.splitlines())


def test_plugins_lists_the_example_claim_with_its_origin(example_on_path):
    listing = render_plugins(Registry(["overparam_example"], autoload=False))
    claims = listing.split("claims:")[1].splitlines()
    [line] = [line for line in claims if line.split()[:1] == ["w_norm_settles"]]
    assert "module overparam_example (" in line and line.rstrip().endswith("(Definition 2.3, Theorems 3–4)")
    assert any(line.split()[:2] == ["relu_sign_flips", "built-in"] for line in claims)


# --- the registry's side ---------------------------------------------------------------------

CLAIM_MODULE = """
    from overparam import Assessment, Claim, Verdict, hookimpl

    class {cls}(Claim):
        '''A claim that needs `{variable}` and finds it {verdict}.'''
        name = "{name}"
        title = "{title}"
        paper_ref = "(9.9)"
        statement = "{statement}"
        needs = ("{variable}",)
        figure = "{figure}"

        def fit(self, view):
            {fit}
            return float(view.ds["{variable}"].max())

        def draw(self, axes, view, fitted):
            axes[0].plot([0, 1], [0, fitted])

        def verdict(self, view, fitted):
            return Assessment(Verdict("{verdict}"), "largest value " + format(fitted, ".3g"))

    @hookimpl
    def overparam_register_claims():
        return [{cls}]
"""


@pytest.fixture
def claim_module(plugin_module):
    def write(module: str, *, name: str = "toy", title: str = "A toy claim", statement: str = "x stays small.",
              variable: str = "x", figure: str = "toy", verdict: str = "supported", fit: str = "pass") -> str:
        return plugin_module(module, CLAIM_MODULE.format(cls="Toy", name=name, title=title, statement=statement,
                                                         variable=variable, figure=figure, verdict=verdict, fit=fit))

    return write


def toy_store(path: Path) -> Path:
    """Done points over m with one variable ``x`` = m over two steps."""
    m = np.array([16, 32, 64])
    x = np.stack([m / 2, m], axis=-1).astype(float)
    xr.Dataset({"status": (("m",), np.full(3, STATUS_CODE["done"], dtype="int8")), "x": (("m", "step"), x)},
               coords={"m": m, "step": [0, 1]}).to_zarr(str(path), zarr_format=ZARR_FORMAT)
    return path


def test_a_claim_from_a_plain_module_is_judged_and_one_that_raises_is_skipped_with_its_error(claim_module, tmp_path):
    good = claim_module("good_claim")
    bad = claim_module("bad_claim", name="broken", title="A broken claim", figure="broken",
                       fit="raise RuntimeError('no luck')")
    registry = Registry([good, bad], autoload=False)
    report = build_report(toy_store(tmp_path / "toy.zarr"), tmp_path / "out", registry=registry)
    [finding] = [f for f in report.content.findings if f.paper_ref == "(9.9)"]
    assert finding.title == "A toy claim" and finding.assessment.reason == "largest value 64"
    assert (tmp_path / "out" / "toy.png").exists() and not (tmp_path / "out" / "broken.png").exists()
    assert "- A broken claim: the claim raised `RuntimeError: no luck` (in fit)" in report.markdown_path.read_text()


def test_two_claims_of_one_name_are_refused_naming_both_providers(claim_module, tmp_path):
    first, second = claim_module("first_claim"), claim_module("second_claim", title="Another toy")
    registry = Registry([first, second], autoload=False)
    with pytest.raises(DuplicateComponentError, match="claim 'toy' is provided by both module first_claim and "
                                                      "module second_claim"):
        registry.get("claim", "toy")
    report = build_report(toy_store(tmp_path / "toy.zarr"), tmp_path / "out", registry=registry)
    assert not [f for f in report.content.findings if f.paper_ref == "(9.9)"]
    assert "- claim toy: claim 'toy' is provided by both module first_claim and module second_claim" in (
        report.markdown_path.read_text())


def test_a_claim_that_leaves_its_declarations_out_is_refused_with_its_plugin(claim_module):
    module = claim_module("vague_claim", statement="")
    registry = Registry([module], autoload=False)
    assert "toy" not in registry.names("claim")
    [problem] = [p for p in registry.problems if isinstance(p, PluginLoadError)]
    assert problem.provider.plugin == module and "`statement` is not declared as a string" in str(problem)


def test_claims_are_collected_only_when_asked_for_so_a_broken_claim_stops_no_run(plugin_module):
    plugin_module("raising_claims", """
        from overparam import hookimpl

        @hookimpl
        def overparam_register_claims():
            raise ImportError("the report's extras are not installed")
    """)
    registry = Registry(["raising_claims"], autoload=False)
    assert registry.problems == []  # what planning a run checks
    assert registry.entries("claim") and all(issubclass(e.component, Claim) for e in registry.entries("claim"))
    [problem] = registry.problems
    assert "overparam_register_claims() raised ImportError: the report's extras are not installed" in str(problem)
    sys.modules.pop("raising_claims", None)
