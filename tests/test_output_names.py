"""Output names in the store: one diagnostic in several stages keeps every stage's values,
labelled along ``stage``; every other collision of names is refused at validation, naming
both sides."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from framework.cli.commands import main
from framework.execution.task import run_ensemble

from framework.planning.plan import plan_file
from framework.plugin_system.registry import Registry
from framework.configuration.source import PipelineError
from framework.storage.store import Store

HEAD = """\
name: radii
grid:
  m: [16, 24]
stages:
  data: {plugin: separable, params: {n: 4, L: 4, d_x: 4, d: 2, delta: 0.2}}
  init: {plugin: paper, params: {m: "${grid.m}"}}
  train: {plugin: gd, params: {steps: 12, lr: 0.05/m}, needs: [data, init]}
"""
TWO_RADII = HEAD + """\
  near: {plugins: [loss, {semi_smoothness: {tau: 0.01}}], schedule: {at: [0, 6, 12]}, needs: [train]}
  far: {plugins: [{semi_smoothness: {tau: 0.1}}], schedule: {at: [0, 6, 12]}, needs: [train]}
store: radii.zarr
"""


def one_radius(tau: float, stage: str) -> str:
    # named like the stage of TWO_RADII it is compared with: the probe's random direction W' is
    # drawn from the seed of the measuring stage (and grid point and step), nothing else
    return HEAD + f"  {stage}: {{plugins: [{{semi_smoothness: {{tau: {tau}}}}}], schedule: {{at: [0, 6, 12]}}, " \
                  "needs: [train]}\nstore: one.zarr\n"


def stored(tmp_path, text: str, name: str) -> xr.Dataset:
    """Plan, lay out, run every job in this process and write a real store; read it back."""
    folder = tmp_path / name
    folder.mkdir()
    path = folder / "pipeline.yaml"
    path.write_text(text)
    plan = plan_file(path)
    layout = plan.layout
    store = Store.prepare(folder / "store.zarr", layout, plan.pipeline)
    for job in plan.jobs:
        store.write(run_ensemble([job], layout)[:1])
    return xr.open_zarr(str(folder / "store.zarr")).load()


def test_one_diagnostic_at_two_radii_keeps_both_labelled_by_stage(tmp_path):
    both = stored(tmp_path, TWO_RADII, "both")
    near = stored(tmp_path, one_radius(0.01, "near"), "near")
    far = stored(tmp_path, one_radius(0.1, "far"), "far")
    gap = both["semi_smoothness_gap"]
    assert gap.dims == ("m", "stage", "step")
    assert both["stage"].values.tolist() == ["near", "far"]
    # each stage's values are what a pipeline measuring that radius alone stores
    np.testing.assert_array_equal(gap.sel(stage="near").values, near["semi_smoothness_gap"].values)
    np.testing.assert_array_equal(gap.sel(stage="far").values, far["semi_smoothness_gap"].values)
    assert not np.array_equal(near["semi_smoothness_gap"].values, far["semi_smoothness_gap"].values)
    assert json.loads(gap.attrs["params_by_stage"]) == {"near": {"tau": 0.01}, "far": {"tau": 0.1}}
    assert both["loss"].dims == ("m", "step")  # a diagnostic of one stage has no stage dimension


@pytest.fixture
def registry(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "data"))
    return Registry(["colliding_plugin"])


def refusal(tmp_path, registry, stages: str) -> str:
    path = tmp_path / "clash.yaml"
    path.write_text(HEAD + stages)
    with pytest.raises(PipelineError) as caught:
        plan_file(path, registry).layout
    return str(caught.value)


def test_two_diagnostics_declaring_one_output_are_refused_naming_both(tmp_path, registry):
    message = refusal(tmp_path, registry, "  a: {plugins: [loss], needs: [train]}\n"
                                          "  b: {plugins: [twin], needs: [train]}\n")
    assert "output 'loss' of diagnostic 'twin' (stage 'b') is also declared by diagnostic 'loss' (stage 'a')" \
        in message


def test_an_output_named_like_a_grid_axis_is_refused(tmp_path, registry):
    message = refusal(tmp_path, registry, "  a: {plugins: [named], needs: [train]}\n")
    assert "clash.yaml:" in message and "stages.a: output 'm' of diagnostic 'named' is named like a grid axis" \
        in message


def test_validate_exits_2_for_a_collision_and_accepts_two_radii(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(TWO_RADII)
    assert CliRunner().invoke(main, ["validate", str(good)]).exit_code == 0
    clash = tmp_path / "axis.yaml"
    clash.write_text(TWO_RADII.replace("m: [16, 24]", "m: [16, 24]\n  stage: [1, 2]"))
    result = CliRunner().invoke(main, ["validate", str(clash)])
    assert result.exit_code == 2 and "grid.stage" in result.output
