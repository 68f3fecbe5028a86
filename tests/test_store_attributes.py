"""The store as a person reads it: every variable and coordinate labelled with ``long_name`` and
``units``, and the README's examples giving numbers without a warning although the shared
``step`` axis holds steps that only one stage measures (docs/architecture.md, "The store")."""
from __future__ import annotations

import ast
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr

from framework.execution.task import run_ensemble

from framework.planning.plan import plan_file
from framework.storage.store import Store
from framework.contract.store_names import RUN_VARIABLES
from scans import ROOT, write_pipeline

README_STORE = "pipelines/results/quickstart.zarr"

# The README's examples select m = 512 and read loss, dprime_max and h_norm_min; two stages on
# different schedules leave holes on the shared step axis, as the quickstart's do. The zipped
# axis c (a name no table knows), the diagnostic dimension length and the stage dimension of a
# diagnostic listed twice cover every kind of coordinate a store has.
HOLES = """\
name: holes
grid:
  m: [64, 512]
  c: [0.05, 0.04]
  zip: [[m, c]]
  seed: 2
stages:
  data: {plugin: separable, params: {n: 4, L: 4, d_x: 4, d: 2, delta: 0.2}}
  init: {plugin: paper, params: {m: "${grid.m}"}}
  train: {plugin: gd, params: {steps: 40, lr: c/m}, needs: [data, init]}
  diagnose: {plugins: [loss, dprime_sparsity, forward_norms], schedule: {log: 8}, needs: [train]}
  geometry: {plugins: [fresh_randomness, chain_norms], schedule: {log: 3}, needs: [train]}
  near: {plugins: [{semi_smoothness: {tau: 0.01}}], schedule: {at: [0, 40]}, needs: [train]}
  far: {plugins: [{semi_smoothness: {tau: 0.1}}], schedule: {at: [0, 40]}, needs: [train]}
  summary: {plugins: [rate], needs: [train]}
store: holes.zarr
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete store of ``HOLES``, every job run in this process (no Dask)."""
    directory = tmp_path_factory.mktemp("attributes")
    plan = plan_file(write_pipeline(directory, HOLES))
    layout = plan.layout
    path = directory / "holes.zarr"
    written = Store.prepare(path, layout, plan.pipeline)
    for job in plan.jobs:
        for result in run_ensemble([job], layout):
            written.write([result])
    return path


def readme_examples() -> str:
    """The python block of the README's section "What a run gives"."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## What a run gives", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found, "README.md's 'What a run gives' has no python block"
    return found.group(1)


def run_examples(code: str, path: Path) -> list[tuple[str, Any]]:
    """Run the examples on the store at ``path`` (instead of the quickstart's): each expression
    statement's source and its computed value, in order."""
    assert README_STORE in code, f"the README's examples no longer open {README_STORE}"
    code = code.replace(README_STORE, str(path))
    namespace: dict[str, Any] = {}
    values = []
    for statement in ast.parse(code).body:
        source = ast.get_source_segment(code, statement) or ""
        if isinstance(statement, ast.Expr):
            value = eval(compile(ast.Expression(statement.value), "README.md", "eval"), namespace)
            values.append((source, value.compute() if hasattr(value, "compute") else value))
        else:
            exec(compile(ast.Module([statement], []), "README.md", "exec"), namespace)
    return values


def units_of(variable: xr.Variable) -> str:
    """A variable's units; xarray moves those of a CF time (``finished_at``, decoded to
    datetime64) from its attributes into its encoding."""
    return str(variable.attrs.get("units") or variable.encoding.get("units") or "")


def test_every_variable_has_a_long_name_and_units_only_where_it_has_some(store: Path) -> None:
    """CF lets a dimensionless quantity leave ``units`` off: none says "1" (xarray's plots would
    print "[1]" after its label), the dimensional ones say what they are in."""
    ds = xr.open_zarr(str(store))
    assert {"m", "c", "seed", "step", "stage", "layer", "length"} <= set(ds.coords)
    unlabelled = [name for name, variable in ds.variables.items() if not str(variable.attrs.get("long_name", "")).strip()]
    assert not unlabelled, f"without long_name: {unlabelled}"
    assert not [name for name, variable in ds.variables.items() if units_of(variable) == "1"]
    assert ds["m"].attrs["long_name"] == "hidden width m" and ds["seed"].attrs["long_name"] == "replica"
    assert ds["c"].attrs["long_name"] == "grid axis c"
    assert ds["step"].attrs["units"] == "step" and ds["wall_time"].attrs["units"] == "s"
    assert "units" not in ds["loss"].attrs and ds["rate"].attrs["units"] == "1/step"


def test_xarrays_default_plots_label_every_axis_on_one_line_without_1(store: Path) -> None:
    """Each coordinate and run variable, as xarray's ``plot`` labels it (``label_from_attrs``,
    which wraps at 30 characters), fits one line; no label of any variable ends in "[1]"."""
    from xarray.plot.utils import label_from_attrs

    ds = xr.open_zarr(str(store))
    framework_owned = [*ds.coords, *RUN_VARIABLES]
    for name in framework_owned:
        label = label_from_attrs(ds[name])
        assert "\n" not in label and "[1]" not in label, (name, label)
    assert not [name for name in ds.variables if "[1]" in label_from_attrs(ds[name]).replace("\n", " ")]
    axis = ds["loss"].isel(m=0, seed=0).plot()[0].axes
    assert axis.get_xlabel() == "training step [step]"
    assert axis.get_ylabel() == ds["loss"].attrs["long_name"]


def test_scheduled_variables_say_where_their_steps_are_missing(store: Path) -> None:
    ds = xr.open_zarr(str(store))
    scheduled = [name for name, variable in ds.data_vars.items() if "step" in variable.dims]
    assert scheduled and all("step_holes" in ds[name].attrs for name in scheduled)
    assert "step_holes" not in ds["rate"].attrs
    for name in ("loss", "fresh_randomness"):
        kept = ds[name].dropna("step", how="all")
        assert 0 < kept.sizes["step"] < ds.sizes["step"], name  # the two schedules differ
        assert f'keeps the {kept.sizes["step"]} it was measured at' in ds[name].attrs["step_holes"]
        assert np.isfinite(kept.values).all(), name  # every point done: a hole is only a step not measured


def test_readme_examples_give_finite_numbers_without_warnings(store: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values = run_examples(readme_examples(), store)
    assert len(values) >= 3
    for source, value in values:
        array = np.asarray(value)
        assert array.size and np.isfinite(array).all(), f"{source} gave {value}"
