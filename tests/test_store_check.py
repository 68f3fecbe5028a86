"""``overparam check STORE``: a store of a real run keeps the contract, and every way of breaking
one is reported in a sentence that names what broke and where, with the exit status of its kind."""
from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml
import zarr

from framework.execution.task import run_ensemble
from framework.contract.run_records import MemberResult
from framework.contract.store_layout import Layout
from framework.planning.plan import plan_file
from framework.storage.store import STATUS_CODE, Store, pipeline_hash
from framework.storage.check import StoreCheck, check_store
from framework.storage.schema import pipeline_digest
from scans import FAILING, TINY, overparam, write_pipeline

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def complete_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete store of a real run of TINY, made once; tests break copies of it."""
    directory = tmp_path_factory.mktemp("complete")
    out = overparam("run", str(write_pipeline(directory, TINY)), "--workers", "1", "--quiet")
    assert out.returncode == 0, out.stderr
    return directory / "tiny.zarr"


@pytest.fixture
def complete(complete_run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "tiny.zarr"
    shutil.copytree(complete_run, copy)
    return copy


@pytest.fixture
def three_of_four(tmp_path: Path) -> tuple[Path, Layout, MemberResult, list[str]]:
    """A store of TINY with three points written by ``Store.write``; the fourth point's results
    computed but not written. Also the labels of the three written points."""
    plan = plan_file(write_pipeline(tmp_path, TINY))
    layout = plan.layout
    store = Store.prepare(tmp_path / "tiny.zarr", layout, plan.pipeline)
    results = run_ensemble(list(plan.jobs), layout)
    for result in results[:3]:
        store.write([result])
    return store.path, layout, results[3], [job.point.label() for job in plan.jobs[:3]]


def write_without_status(path: Path, layout: Layout, result: MemberResult, until: str) -> None:
    """``Store.write``'s writes for one point, in its order, with plain zarr, stopping after the
    write of ``until``: a writer killed before the status line (the commit mark)."""
    group = zarr.open_group(str(path), mode="r+")
    writes = list(result.values.items())
    writes += [(name, np.full(layout.shape(variable), np.nan)) for name, variable in layout.variables.items()
               if name not in result.values]
    writes += [("error", result.error), ("wall_time", result.wall_time), ("reached_step", result.reached_step[0]),
               ("learning_rate", result.learning_rate[0]), ("finished_at", result.finished_at)]
    for name, value in writes:
        group[name][result.index] = value
        if name == until:
            return
    raise AssertionError(f"{until} is not one of the writes")


def edited(path: Path, edit: Callable[[zarr.Group], None]) -> Path:
    """The store after one edit with plain zarr, its consolidated metadata updated as overparam does."""
    edit(zarr.open_group(str(path), mode="r+", use_consolidated=False))
    zarr.consolidate_metadata(str(path))
    return path


def test_a_complete_store_of_a_real_run_passes_and_says_it_is_complete(complete: Path):
    out = overparam("check", str(complete))
    assert out.returncode == 0, out.stdout + out.stderr
    assert not [line for line in out.stdout.splitlines() if line.startswith("- ")]
    status = xr.open_zarr(str(complete))["status"].values
    assert (status == STATUS_CODE["done"]).all()
    assert f"{status.size} grid points: 0 pending, {status.size} done" in out.stdout
    assert out.stdout.splitlines()[-1].endswith("consistent and complete: every grid point is done")


def test_an_incomplete_but_consistent_store_passes_and_counts_what_is_left(three_of_four):
    path, _, result, _ = three_of_four
    checked = check_store(path)
    status = xr.open_zarr(str(path))["status"].values
    assert checked.departures == ()
    assert checked.counts["pending"] == int((status == STATUS_CODE["pending"]).sum()) == 1
    assert checked.counts["done"] == 3 and not checked.complete
    assert "consistent, not complete: 1 grid points are not done" in checked.text()


@pytest.mark.parametrize("until", ["loss", "finished_at"])
def test_a_point_cut_before_its_status_is_named_as_written_but_not_committed_and_a_resume_mends_it(
        three_of_four, until: str):
    path, layout, result, others = three_of_four
    write_without_status(path, layout, result, until)
    assert int(xr.open_zarr(str(path))["status"].values[result.index]) == STATUS_CODE["pending"]
    out = overparam("check", str(path))
    assert out.returncode == 1, out.stdout + out.stderr
    departures = [line for line in out.stdout.splitlines() if line.startswith("- ")]
    assert len(departures) == 1, departures
    assert departures[0].startswith("- grid point m=40, seed=1: written but not committed: it holds ")
    assert "a resumed run recomputes it" in departures[0]
    assert not any(label in out.stdout for label in others)
    resumed = overparam("run", str(path.parent / "pipeline.yaml"), "--workers", "1", "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert "3 of 4 grid points were already done" in resumed.stdout
    assert check_store(path).complete


def test_a_point_marked_done_without_its_results_is_named_with_what_it_lacks(three_of_four):
    path, _, result, _ = three_of_four
    zarr.open_group(str(path), mode="r+")["status"][result.index] = STATUS_CODE["done"]
    departures = check_store(path).departures
    named = [d for d in departures if d.startswith("grid point m=40, seed=1: done, but")]
    assert len(named) == len(departures) and departures
    assert "grid point m=40, seed=1: done, but its reached_step is -1, not the 60 training steps" in departures
    assert "grid point m=40, seed=1: done, but its wall_time is not a finite number" in departures
    assert any("holds no value of diagnostic loss (loss)" in d for d in departures)


def test_an_invalid_status_code_is_named_at_its_point_and_not_counted_as_a_state(complete: Path):
    edited(complete, lambda group: group["status"].__setitem__((0, 1), 7))
    out = overparam("check", str(complete))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "- grid point m=24, seed=1: status code 7 is not one of the flag_values (0, 1, 2, 3)" in out.stdout
    assert "4 grid points: 0 pending, 3 done, 0 failed, 0 diverged, 1 with an invalid status" in out.stdout


def test_a_deleted_root_attribute_fails_the_command_with_its_name(complete: Path):
    edited(complete, lambda group: group.attrs.__delitem__("pipeline_hash"))
    out = overparam("check", str(complete))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "- root attribute pipeline_hash is missing or empty" in out.stdout
    assert out.stdout.splitlines()[-1].endswith("1 departure from the store contract (listed above)")


def set_attr(name: str, value: object, variable: str | None = None) -> Callable[[zarr.Group], None]:
    def edit(group: zarr.Group) -> None:
        (group[variable] if variable else group).attrs[name] = value
    return edit


def drop_attr(name: str, variable: str) -> Callable[[zarr.Group], None]:
    return lambda group: group[variable].attrs.__delitem__(name)


def set_value(variable: str, index: tuple[int, ...], value: object) -> Callable[[zarr.Group], None]:
    return lambda group: group[variable].__setitem__(index, value)


BREAKAGES = {
    "edited pipeline text": (lambda group: group.attrs.__setitem__(
        "pipeline", group.attrs["pipeline"].replace("steps: 60", "steps: 61")),
        "root attribute pipeline with its overrides does not give resolved_pipeline"),
    "edited resolved pipeline": (lambda group: group.attrs.__setitem__(
        "resolved_pipeline", group.attrs["resolved_pipeline"].replace("steps: 60", "steps: 61")),
        "but the stored resolved_pipeline text hashes to"),
    "edited overrides": (set_attr("overrides", '["grid.seed=5"]'),
                         "root attribute pipeline with its overrides does not give resolved_pipeline"),
    "config not json": (set_attr("resolved_config", "{grid: m"), "resolved_config is not a JSON mapping"),
    "versions without overparam": (set_attr("versions", '{"torch": "2.13"}'), "versions is not a JSON mapping"),
    "start time not a time": (set_attr("started_at", "yesterday"), "started_at is 'yesterday', not a time"),
    "no long_name": (drop_attr("long_name", "loss"), "variable loss has no long_name attribute"),
    "no paper_ref": (drop_attr("paper_ref", "rate"), "variable rate has no paper_ref attribute"),
    "three flags": (set_attr("flag_meanings", "pending done failed", "status"),
                    "status's CF flags do not name the four states once each"),
    "repeated step": (set_value("step", (1,), 0), "coordinate step repeats steps 0"),
    "steps not the config's": (set_value("step", (8,), 61),
                               "but resolved_config's steps are 0, 1, 2, 3, 6, 10, 19, 33, 60"),
    "repeated width": (set_value("m", (0,), 40), "coordinate m repeats values (40, 40)"),
    "error on a done point": (set_value("error", (1, 0), "oops"), "grid point m=40, seed=0: done, but its error"),
    "reached_step short of the steps": (set_value("reached_step", (0, 0), 33),
                                        "grid point m=24, seed=0: done, but its reached_step is 33, not the 60"),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_each_broken_attribute_or_value_is_reported_in_a_sentence_naming_it(complete: Path, breakage: str):
    edit, expected = BREAKAGES[breakage]
    checked = check_store(edited(complete, edit))
    assert not checked.consistent
    assert any(expected in departure for departure in checked.departures), checked.departures


def test_the_complete_fixture_has_no_departure_before_it_is_broken(complete: Path):
    """The departures above come from the edits, not from the store they were made in."""
    assert check_store(complete) == StoreCheck(complete, (), {"pending": 0, "done": 4, "failed": 0, "diverged": 0},
                                               xr.open_zarr(str(complete)).attrs["finished_at"])


def test_attributes_edited_without_updating_the_consolidated_metadata_are_reported_stale(complete: Path):
    zarr.open_group(str(complete), mode="r+", use_consolidated=False)["loss"].attrs["long_name"] = "changed"
    departures = check_store(complete).departures
    assert departures == ("its consolidated metadata is stale: the attributes of loss differ from the array's own",)


def test_failed_and_diverged_points_along_a_zip_dimension_are_consistent_and_named_by_every_axis(tmp_path: Path):
    env = {"PYTHONPATH": str(DATA)}
    out = overparam("run", str(write_pipeline(tmp_path, FAILING)), "--workers", "1", "--quiet", env=env)
    assert out.returncode == 1, out.stderr
    path = tmp_path / "failing.zarr"
    checked = check_store(path)
    assert checked.departures == () and not checked.complete
    assert checked.counts == {"pending": 0, "done": 2, "failed": 1, "diverged": 1}
    case = xr.open_zarr(str(path))["case"].values.tolist()
    edited(path, set_value("error", (case.index("raises"),), ""))
    assert check_store(path).departures == (
        "grid point case=raises, explode=True, lr=0.05: failed, but its error is empty: nothing says why",)


def test_a_store_of_another_tool_exits_2_with_one_line(tmp_path: Path):
    path = tmp_path / "other.zarr"
    xr.Dataset({"loss": (("m", "step"), np.zeros((2, 3)))}, coords={"m": [24, 40]}).to_zarr(str(path), zarr_format=2)
    out = overparam("check", str(path))
    assert out.returncode == 2
    assert out.stdout == "" and len(out.stderr.splitlines()) == 1, out.stderr
    assert out.stderr.startswith(f"{path} is a zarr store but not an overparam store")


@pytest.mark.parametrize("kind", ["missing", "folder", "file"])
def test_a_path_that_is_not_a_zarr_store_exits_2_with_one_line_naming_it(tmp_path: Path, kind: str):
    path = tmp_path / "results.zarr"
    if kind == "folder":
        path.mkdir()
        (path / "notes.txt").write_text("mine")
    elif kind == "file":
        path.write_text("mine")
    out = overparam("check", str(path))
    assert out.returncode == 2
    assert out.stdout == "" and len(out.stderr.splitlines()) == 1, out.stderr
    expected = {"missing": "no such file or directory", "folder": "is not a zarr store", "file": "is a file"}[kind]
    assert out.stderr.startswith(str(path)) and expected in out.stderr


def test_the_digest_of_the_stored_text_is_the_hash_the_store_records(tmp_path: Path):
    text = TINY.replace("name: tiny", "name: tiny\ndescription: a comment that does not count")
    plan = plan_file(write_pipeline(tmp_path, text))
    assert pipeline_digest(yaml.safe_load(text)) == pipeline_hash(plan.pipeline)
    assert pipeline_digest(yaml.safe_load(text.replace("steps: 60", "steps: 61"))) != pipeline_hash(plan.pipeline)
