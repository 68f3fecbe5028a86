"""Where a scan's time goes (framework/execution/time_split.py): the run's summary says how much
worker time went to training, to diagnostics and to the rest, and ``--profile`` writes Dask's
performance report."""
from __future__ import annotations

import numpy as np
import xarray as xr

from framework.execution.cluster import ClusterOptions
from framework.execution.orchestrator import RunOptions, run_plan
from framework.planning.plan import plan_file
from scans import TINY, overparam, write_pipeline

CHEAP = TINY.replace("plugins: [loss, pl_ratio, weight_distance, forward_norms, fresh_randomness]", "plugins: [loss]")
COSTLY = TINY.replace("plugins: [loss, pl_ratio, weight_distance, forward_norms, fresh_randomness]",
                      "plugins: [loss, kernel_spectrum, semi_smoothness, fresh_randomness]")


def split_of(tmp_path, text: str, client) -> tuple[dict[str, float], float, str]:
    """A one-point-per-task run's summary split, its points' wall times added up, and its line."""
    tmp_path.mkdir()
    pipeline = write_pipeline(tmp_path, text)
    summary = run_plan(plan_file(pipeline), RunOptions(cluster=ClusterOptions(client=client), progress="quiet",
                                                       max_ensemble=1))
    assert summary.ok
    wall = xr.open_zarr(str(tmp_path / "tiny.zarr"))["wall_time"].values
    return dict(summary.worker_seconds), float(np.sum(wall)), summary.text()


def test_the_summary_splits_the_worker_time_the_points_took_into_training_diagnostics_and_the_rest(
        tmp_path, dask_client):
    """One point per task: each point's wall time is its task's, so the split adds up to the
    wall times the store keeps; a scan measuring the tangent kernel and semi-smoothness at
    each logged step spends a larger share on diagnostics than one measuring the loss alone."""
    cheap, cheap_wall, line = split_of(tmp_path / "cheap", CHEAP, dask_client)
    costly, costly_wall, _ = split_of(tmp_path / "costly", COSTLY, dask_client)
    for split, wall in ((cheap, cheap_wall), (costly, costly_wall)):
        assert list(split) == ["training", "diagnostics", "the rest"]
        assert all(seconds >= 0 for seconds in split.values()) and split["training"] > 0
        assert np.isclose(sum(split.values()), wall, rtol=1e-9)
    assert costly["diagnostics"] / costly_wall > cheap["diagnostics"] / cheap_wall
    total = sum(cheap.values())
    assert line.endswith(f"; worker time {total:.1f}s: " + ", ".join(
        f"{seconds / total:.0%} {part}" for part, seconds in cheap.items()))


def test_profile_writes_dasks_performance_report_of_the_run(tmp_path):
    pipeline = write_pipeline(tmp_path, CHEAP)
    done = overparam("run", str(pipeline), "--workers", "1", "--quiet", "--profile", str(tmp_path / "run.html"))
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "run.html").read_text()
    assert "Task Stream" in page and "Worker Profile" in page and "run_batch" in page  # the scan's tasks
