"""``import overparam`` as a user runs it: a pipeline as a path, YAML text or a dict, overrides
validated like the file and recorded in the store, one local cluster shared by every call, a
caller's client, one stage's view of a store, and scripts without a ``__main__`` guard."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml
from distributed import Client, LocalCluster

import overparam
from framework.api import running
from framework.planning.schedule import schedule_steps

ROOT = Path(__file__).resolve().parents[1]
TINY = {
    "name": "api",
    "grid": {"m": [16, 24], "seed": 2},
    "stages": {
        "data": {"plugin": "separable", "params": {"n": 4, "L": 3, "d_x": 4, "d": 2, "delta": 0.3}},
        "init": {"plugin": "paper", "params": {"m": "${grid.m}"}},
        "train": {"plugin": "gd", "params": {"steps": 40, "lr": "0.05/m"}, "needs": ["data", "init"]},
        "diagnose": {"plugins": ["loss", "pl_ratio"], "schedule": {"log": 12}, "needs": ["train"]},
        "geometry": {"plugins": ["forward_norms"], "schedule": {"log": 3}, "needs": ["train"]},
    },
}
DONE = 1  # the store's status code of a done grid point


def test_a_pipeline_is_a_path_yaml_text_or_a_dict_and_plans_the_same(tmp_path: Path) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    plans = [overparam.plan(path), overparam.plan(str(path)), overparam.plan(path.read_text()), overparam.plan(TINY)]
    assert {len(p.jobs) for p in plans} == {4}
    assert len({p.pipeline.name for p in plans}) == 1
    assert plans[0].pipeline.store == tmp_path / "results" / "api.zarr"  # a file's store beside the file
    assert plans[3].pipeline.store == Path.cwd() / "results" / "api.zarr"  # a dict's from here


def test_validate_lists_every_problem_naming_the_override() -> None:
    problems = overparam.validate(TINY, overrides=["stages.train.params.lr=abc", "stages.train.params.steps=-1",
                                                   "grid.m=[16, 0]"])
    assert any(line.startswith("<dict> override 1, stages.train.params.lr=abc:") and "'abc'" in line
               for line in problems), problems
    assert any(line.startswith("<dict> override 2, stages.train.params.steps=-1:") and "greater than or equal to 0"
               in line for line in problems), problems
    # a problem the override causes elsewhere is reported where it is, at the grid point it reaches
    assert any("stages.init.params.m: 0: should be greater than or equal to 1 (at m=0" in line
               for line in problems), problems
    assert overparam.validate(TINY) == []


def test_an_override_of_a_missing_key_says_where_it_stops_and_how_to_add_it() -> None:
    problems = overparam.validate(TINY, overrides=["stages.trian.params.steps=3"])
    assert problems == ["<dict>: override 1, stages.trian.params.steps=3: the pipeline has no key stages.trian; did you "
                        "mean 'train'?; to add it, write +stages.trian.params.steps=3"]


def test_overrides_change_the_plan_as_editing_the_file_would(tmp_path: Path) -> None:
    edited = json.loads(json.dumps(TINY))
    edited["grid"]["m"] = [8]
    edited["stages"]["train"]["params"]["steps"] = 10
    edited["stages"]["train"]["params"]["lr_fraction"] = 0.3
    del edited["stages"]["geometry"]
    overridden = overparam.plan(TINY, overrides=["grid.m=[8]", "stages.train.params.steps=10",
                                                 "+stages.train.params.lr_fraction=0.3", "~stages.geometry"])
    direct = overparam.plan(edited)
    assert overridden.pipeline.raw == direct.pipeline.raw
    assert [job.point.values for job in overridden.jobs] == [job.point.values for job in direct.jobs]


def test_run_records_the_overrides_and_resumes_or_grows_by_the_resolved_pipeline(tmp_path: Path) -> None:
    store = tmp_path / "tiny.zarr"
    ds = overparam.run(TINY, overrides=["grid.m=[16]"], store=store, progress="quiet")
    assert dict(ds.sizes)["m"] == 1 and int((ds.status == DONE).sum()) == 2
    assert json.loads(ds.attrs["overrides"]) == ["grid.m=[16]"]
    assert yaml.safe_load(ds.attrs["resolved_pipeline"])["grid"]["m"] == [16]
    assert yaml.safe_load(ds.attrs["pipeline"])["grid"]["m"] == [16, 24]  # the text as given
    first_wall = ds.wall_time.values.copy()
    again = overparam.run(TINY, overrides=["grid.m=[16]"], store=store, progress="quiet")
    np.testing.assert_array_equal(again.wall_time.values, first_wall)  # resumed: nothing rerun
    grown = overparam.run(TINY, overrides=["grid.m=[16]", "grid.seed=3"], store=store, progress="quiet")
    assert dict(grown.sizes)["seed"] == 3 and int((grown.status == DONE).sum()) == 3
    np.testing.assert_array_equal(grown.wall_time.values[:, :2], first_wall)  # the two done points kept
    with pytest.raises(Exception, match="different pipeline"):
        overparam.run(TINY, overrides=["grid.m=[16]", "stages.train.params.steps=41"], store=store, progress="quiet")


def test_repeated_runs_share_one_local_cluster(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    overparam.run(TINY, overrides=["grid.m=[16]", "grid.seed=1"], store=tmp_path / "a.zarr", progress="quiet")
    clients = {id(client) for _, client in running._SHARED.values()}
    overparam.run(TINY, overrides=["grid.m=[24]", "grid.seed=1"], store=tmp_path / "b.zarr", progress=False)
    assert {id(client) for _, client in running._SHARED.values()} == clients  # no cluster started for it
    assert "grid points" not in capsys.readouterr().out  # progress=False is quiet


def test_run_uses_the_callers_client_and_leaves_it_open(tmp_path: Path) -> None:
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False) as cluster, Client(cluster) as client:
        ds = overparam.run(TINY, overrides=["grid.m=[16]", "grid.seed=1"], store=tmp_path / "c.zarr", client=client,
                           progress="quiet")
        assert int((ds.status == DONE).sum()) == 1
        assert client.status == "running"
        assert client.submit(sum, [1, 2]).result() == 3


def test_a_stage_view_holds_that_stage_on_its_own_steps(tmp_path: Path) -> None:
    store = tmp_path / "stages.zarr"
    whole = overparam.run(TINY, store=store, progress="quiet").load()
    geometry = overparam.open(store, stage="geometry").load()
    expected = list(schedule_steps({"log": 3}, 40, "schedule"))  # the schedule, worked out independently
    assert geometry.step.values.tolist() == expected
    assert set(geometry.data_vars) >= {"h_norm_min", "status"} and "loss" not in geometry.data_vars
    np.testing.assert_array_equal(geometry.h_norm_min.values, whole.h_norm_min.sel(step=expected).values)
    assert not np.isnan(geometry.h_norm_min.values).any()  # no holes from the other stage's schedule
    diagnose = overparam.open(store, stage="diagnose")
    assert diagnose.step.size == len(schedule_steps({"log": 12}, 40, "schedule"))
    with pytest.raises(ValueError, match="did you mean 'geometry'"):
        overparam.open(store, stage="geometri")


def test_a_script_without_a_main_guard_runs_once(tmp_path: Path) -> None:
    pipeline = tmp_path / "tiny.yaml"
    pipeline.write_text(yaml.safe_dump(TINY))
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(f"""\
        import os
        import overparam
        print("script body ran in", os.getpid(), flush=True)
        ds = overparam.run({str(pipeline)!r}, overrides=["grid.m=[16]"], progress="quiet")
        print("sizes", dict(ds.sizes))
        ds = overparam.run({str(pipeline)!r}, overrides=["grid.m=[16]", "grid.seed=3"], progress="quiet")
        print("sizes", dict(ds.sizes))
        """))
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("script body ran in") == 1, done.stdout  # never again in a worker
    assert "sizes {'m': 1, 'seed': 3," in done.stdout
    assert "Traceback" not in done.stderr and "in use by another" not in done.stderr


def test_a_plugin_module_beside_the_pipeline_is_found_there_and_by_the_workers(tmp_path: Path) -> None:
    folder = tmp_path / "lab"
    folder.mkdir()
    (folder / "wfro.py").write_text(textwrap.dedent('''\
        """A diagnostic that lives beside its pipeline file: ||W||_F per member."""
        import torch
        from overparam import Diagnostic, Output, hookimpl


        class FrobeniusW(Diagnostic):
            """The Frobenius norm of W, per ensemble member."""

            name = "w_frobenius"
            outputs = {"w_frobenius": Output(long_name="||W||_F", paper_ref="Definition 2.3")}

            def measure(self, params, probe):
                return {"w_frobenius": torch.linalg.matrix_norm(probe.weights.W)}


        @hookimpl
        def overparam_register_diagnostics():
            return [FrobeniusW]
        '''))
    pipeline = json.loads(json.dumps(TINY))
    pipeline["plugins"] = ["wfro"]
    pipeline["stages"]["diagnose"]["plugins"] = ["loss", "w_frobenius"]
    (folder / "lab.yaml").write_text(yaml.safe_dump(pipeline))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    command = [sys.executable, "-m", "framework.cli.commands", "run", str(folder / "lab.yaml"), "grid.m=[16]",
               "grid.seed=1", "--quiet", "--store", "out.zarr"]
    done = subprocess.run(command, cwd=elsewhere, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    ds = overparam.open(elsewhere / "out.zarr", stage="diagnose")
    assert int((ds.status == DONE).sum()) == 1
    assert np.isfinite(ds.w_frobenius.values).all() and (ds.w_frobenius.values > 0).all()


def test_a_missing_plugin_module_says_where_it_was_looked_for(tmp_path: Path) -> None:
    pipeline = json.loads(json.dumps(TINY))
    pipeline["plugins"] = ["no_such_lab_module"]
    (tmp_path / "lab.yaml").write_text(yaml.safe_dump(pipeline))
    problems = overparam.validate(tmp_path / "lab.yaml")
    assert any(f"no module named 'no_such_lab_module' in {tmp_path} (the pipeline's folder) and on sys.path" in line
               for line in problems), problems
