"""``PipelinePath`` parameters resolve against the pipeline file's folder, as ``store:`` does,
whatever the current directory."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import Field

from overparam import Params, PipelinePath
from framework.contract.components import Generator
from framework.planning.plan import plan_file

PIPELINE = """\
name: from-a-file
plugins: [file_plugin]
stages:
  data: {plugin: npz_data, params: {path: inputs/data.npz}}
  init: {plugin: paper, params: {m: 8}}
  train: {plugin: gd, params: {steps: 2, lr: 0.01}, needs: [data, init]}
store: out.zarr
"""


@pytest.fixture
def experiment(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "data"))
    folder = tmp_path / "experiment"
    (folder / "inputs").mkdir(parents=True)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3, 4, 5))
    X[:, 0] /= np.linalg.norm(X[:, 0], axis=-1, keepdims=True)
    np.savez(folder / "inputs" / "data.npz", X=X, Y=rng.normal(size=(3, 4, 2)))
    (folder / "pipeline.yaml").write_text(PIPELINE)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return folder, X


def test_a_relative_path_parameter_resolves_against_the_pipeline_file_not_the_cwd(experiment):
    folder, X = experiment
    job = plan_file(folder / "pipeline.yaml").jobs[0]
    assert job.data.params.path == (folder / "inputs" / "data.npz").resolve()
    assert (job.shape.n, job.shape.L, job.shape.d_x, job.shape.d) == (3, 4, 5, 2)
    assert torch.equal(job.data.component().generate(job.data.params, job.data.seed).X[0], torch.from_numpy(X))


def test_the_store_and_path_parameters_resolve_against_the_same_folder(experiment):
    folder, _ = experiment
    plan = plan_file(folder / "pipeline.yaml")
    assert plan.pipeline.store.parent == plan.jobs[0].data.params.path.parent.parent


class FileParams(Params):
    path: PipelinePath = Field(description="a file")


class FileUser(Generator):
    """Reads nothing: a schema to validate."""

    name = "file_user"
    Params = FileParams

    def generate(self, params, seed):
        raise NotImplementedError


def test_without_a_pipeline_file_a_relative_path_resolves_against_the_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert FileUser.parse_params({"path": "a/b.npz"}).path == tmp_path.resolve() / "a" / "b.npz"
    assert FileUser.parse_params({"path": "a/b.npz"}, Path("/data")).path == Path("/data/a/b.npz")
    assert FileUser.parse_params({"path": "/abs/c.npz"}, Path("/data")).path == Path("/abs/c.npz")
