"""A client SIGKILLed in the middle of a flush: its chunk's data variables written, ``status``
(the commit mark) not yet. The scan runs through a small script that wraps ``Store.write`` so
that the Nth flush kills its own process just before it writes ``status``; the same store is
then resumed with ``overparam run``. The resumed store equals an uninterrupted run's (data
variables bit for bit, but for wall_time and finished_at), and no point done before the kill
is lost or computed again, though the cut flush rewrote the very chunk holding them (every
point of this scan shares one chunk).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import zarr

from fault_runs import load_store, record
from framework.storage.store import STATUS_CODE
from scans import ROOT, assert_same_results, overparam, results, write_pipeline

# sixteen points of a few hundredths of a second each, in one chunk
FLUSHED = """\
name: flushed
grid:
  m: [24, 40]
  seed: 8
stages:
  data: {plugin: separable, params: {n: 4, L: 4, d_x: 4, d: 2, delta: 0.2}}
  init: {plugin: paper, params: {m: "${grid.m}"}}
  train: {plugin: gd, params: {steps: 60, lr: 0.05/m}, needs: [data, init]}
  diagnose: {plugins: [loss, weight_distance, forward_norms], schedule: {log: 8}, needs: [train]}
store: flushed.zarr
"""
# one point per batch and a flush whenever a result arrives: one flush per point or so
RUN = ("--workers", "2", "--threads", "1", "--max-ensemble", "1", "--tasks-per-batch", "1", "--flush-every", "0",
       "--quiet")
KILL_AT_ENV = "OVERPARAM_KILL_AT_FLUSH"

KILLER = textwrap.dedent(f"""\
    import os, signal, sys

    from framework.storage.store import Store

    KILL_AT = int(os.environ[{KILL_AT_ENV!r}])
    flushes = 0
    write = Store.write


    class KillOnCommit:
        \"\"\"The status array, whose first write (the commit mark) kills this process.\"\"\"

        def __init__(self, array):
            self.array = array

        def __getitem__(self, key):
            return self.array[key]

        def __setitem__(self, key, value):
            os.kill(os.getpid(), signal.SIGKILL)

        def __getattr__(self, name):
            return getattr(self.array, name)


    def killing_write(self, results):
        global flushes
        flushes += 1
        if flushes == KILL_AT:
            self._arrays["status"] = KillOnCommit(self.array("status"))
        return write(self, results)


    Store.write = killing_write

    if __name__ == "__main__":  # not in the spawned Dask workers
        from framework.cli.commands import main

        main(["run", *sys.argv[1:]])
    """)


def killed_in_a_flush(kill_at: list[int], tmp_path: Path) -> None:
    pipeline = write_pipeline(tmp_path, FLUSHED)
    reference = tmp_path / "reference.zarr"
    out = overparam("run", str(pipeline), "--store", str(reference), *RUN)
    assert out.returncode == 0, out.stderr
    group = zarr.open_group(str(reference), mode="r")
    grid = tuple(group["status"].shape)
    chunkings = {tuple(group[name].chunks[:len(grid)]) for name in group.array_keys()
                 if tuple(group[name].shape[:len(grid)]) == grid}
    assert chunkings == {grid}  # one chunk per variable: the cut flush rewrites every done point's
    expected = results(reference)
    assert np.isfinite(expected["loss"].values).all()  # every point measured, at every logged step
    script = tmp_path / "kill_in_flush.py"
    script.write_text(KILLER)
    tally = {"kills": 0, "done_before_kill": 0, "uncommitted_at_kill": 0, "lost": 0, "recomputed": 0,
             "resumed_identical": 0}
    for n in kill_at:
        store = tmp_path / f"killed_at_{n}.zarr"
        run = subprocess.Popen([sys.executable, str(script), str(pipeline), "--store", str(store), *RUN], cwd=ROOT,
                               start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, KILL_AT_ENV: str(n)})
        try:
            _, err = run.communicate(timeout=240)
        finally:
            try:  # its Dask workers, left behind by the killed client
                os.killpg(run.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            if run.poll() is None:
                run.communicate()
        assert run.returncode == -signal.SIGKILL, (n, run.returncode, err)  # it died in flush n, not otherwise
        tally["kills"] += 1
        before = load_store(store)
        assert before is not None
        done_before = before["status"].values == STATUS_CODE["done"]
        # the cut flush's values are on disk without their commit mark: the kill fell inside that flush
        uncommitted = ~done_before & before["loss"].notnull().any("step").values
        # each flush before it committed at least one point
        assert done_before.sum() >= n - 1 and uncommitted.any(), (n, int(done_before.sum()), int(uncommitted.sum()))
        tally["done_before_kill"] += int(done_before.sum())
        tally["uncommitted_at_kill"] += int(uncommitted.sum())
        for name in expected.data_vars:  # what a reader sees of a done point after the kill is its final value
            seen, final = before[name].values[done_before], expected[name].values[done_before]
            assert np.array_equal(seen, final, equal_nan=final.dtype.kind == "f"), (n, name)

        resumed = overparam("run", str(pipeline), "--store", str(store), *RUN)
        assert resumed.returncode == 0, (n, resumed.stderr)
        assert_same_results(results(store), expected)
        after = load_store(store)
        assert (after["status"].values == STATUS_CODE["done"]).all()
        for name in before.data_vars:
            kept, was = after[name].values[done_before], before[name].values[done_before]
            same = np.array_equal(kept, was, equal_nan=kept.dtype.kind in "fmM")
            tally["recomputed" if name == "finished_at" else "lost"] += 0 if same else 1
            assert same, (n, name)  # finished_at too: a point done before the kill is not run again
        tally["resumed_identical"] += 1
    assert tally["resumed_identical"] == len(kill_at) and tally["lost"] == 0 and tally["recomputed"] == 0
    record("flush_kills", flushes_killed=kill_at, points=int(done_before.size), **tally)


def test_a_client_killed_inside_a_flush_loses_no_committed_point_and_resumes_to_the_uninterrupted_store(
        tmp_path: Path):
    killed_in_a_flush([4], tmp_path)


@pytest.mark.slow
def test_a_client_killed_inside_each_of_six_flushes_loses_nothing_and_resumes_to_the_uninterrupted_store(
        tmp_path: Path):
    killed_in_a_flush([1, 2, 5, 8, 11, 14], tmp_path)
