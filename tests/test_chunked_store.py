"""Chunks of many grid points (docs/architecture.md, "The store"): how the grid is cut
(``framework.storage.chunking``), writes of one chunk in several flushes keeping each other's
points (``Store.write``), a flush cut before its commit mark, the write buffer's timing
(``framework.storage.write_buffer``), and a 1,000-point scan: few files, a store plain xarray
opens without warnings, and a bounded number of Dask tasks in flight.

Each property is checked against an independent computation: a brute-force enumeration, the
results' own arrays from ``run_ensemble``, an uninterrupted run, the scheduler's own task states.
"""
from __future__ import annotations

import itertools
import math
import copy
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
import zarr
from distributed import LocalCluster
from distributed.diagnostics.plugin import SchedulerPlugin
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from framework.execution.cluster import ClusterOptions
from framework.execution.orchestrator import IN_FLIGHT_PER_SLOT, RunOptions, RunSummary, run_plan
from framework.execution.task import run_ensemble
from framework.planning.plan import Plan, plan_file
from framework.storage import chunking
from framework.storage.chunking import chunk_of, chunk_region, grid_chunks, points_per_chunk

from framework.storage.store import STATUS_CODE, Store
from framework.storage.write_buffer import WriteBuffer
from scans import BOOKKEEPING, TINY, write_pipeline

PENDING, DONE = STATUS_CODE["pending"], STATUS_CODE["done"]

# twelve points (m: 2 x seed: 6), small enough that the default chunking puts them all in one chunk
TINY6 = TINY.replace("seed: 2", "seed: 6")

# --- 1. how the grid is cut ------------------------------------------------------------------

grid_shapes = st.lists(st.integers(1, 50), min_size=1, max_size=4).map(tuple)


@st.composite
def shape_and_sizes(draw: st.DrawFn) -> tuple[tuple[int, ...], int, int]:
    """A grid shape, the bytes of one point and a target; the target is drawn as a number of
    points (from below one to beyond the whole grid) plus a remainder, so that every dimension
    gets cut somewhere in some example."""
    shape = draw(grid_shapes)
    per_point = draw(st.integers(1, 10_000))
    points = draw(st.integers(0, math.prod(shape) + 10))
    target = max(1, points * per_point + draw(st.integers(0, per_point - 1)))
    return shape, per_point, target


@st.composite
def small_grid_and_chunks(draw: st.DrawFn) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A grid of at most a few thousand points (enumerated point by point) and any chunk sizes on it."""
    ndim = draw(st.integers(1, 4))
    largest = min(50, int(3000 ** (1 / ndim)))
    shape = tuple(draw(st.lists(st.integers(1, largest), min_size=ndim, max_size=ndim)))
    chunks = tuple(draw(st.integers(1, size)) for size in shape)
    return shape, chunks


@settings(max_examples=400, deadline=None)
@given(shape_and_sizes())
def test_grid_chunks_fill_the_target_with_the_last_dimensions_whole_first(case):
    shape, per_point, target = case
    chunks = grid_chunks(shape, per_point, target)
    assert len(chunks) == len(shape)
    assert all(1 <= c <= size for c, size in zip(chunks, shape)), (chunks, shape)
    points = math.prod(chunks)
    assert points == 1 or points * per_point <= target, (chunks, shape, per_point, target)
    # C order: at most one dimension partly covered; every one after it whole, every one before it 1
    partial = [axis for axis, (c, size) in enumerate(zip(chunks, shape)) if c < size]
    if partial:
        split = partial[-1]
        assert all(c == size for c, size in zip(chunks[split + 1:], shape[split + 1:])), (chunks, shape)
        assert all(c == 1 for c in chunks[:split]), (chunks, shape)
        # as large as the target allows: one more index along the split dimension would exceed it
        assert (chunks[split] + 1) * math.prod(chunks[split + 1:]) * per_point > target, (chunks, shape, target)
    else:
        assert chunks == shape


@settings(max_examples=60, deadline=None)
@given(small_grid_and_chunks())
def test_every_grid_point_lies_in_exactly_the_region_of_its_chunk(case):
    shape, chunks = case
    counts = np.ones(shape, dtype=np.int64)  # one per point of the grid
    covered = np.zeros(shape, dtype=np.int64)
    grid_of_chunks = [range(-(-size // c)) for size, c in zip(shape, chunks)]
    for chunk in itertools.product(*grid_of_chunks):
        region = chunk_region(chunk, chunks, shape)
        assert all(0 <= s.start < s.stop <= size for s, size in zip(region, shape)), (chunk, region)
        covered[region] += 1
        # brute force: the chunk's points are those whose every index falls in its stretch of that dimension
        inside = np.ones(shape, dtype=bool)
        for axis, (c, size) in enumerate(zip(chunk, chunks)):
            along = np.arange(shape[axis])
            inside &= np.expand_dims((along >= c * size) & (along < (c + 1) * size),
                                     [a for a in range(len(shape)) if a != axis])
        marked = np.zeros(shape, dtype=bool)
        marked[region] = True
        assert np.array_equal(marked, inside), (chunk, region)
    assert np.array_equal(covered, counts)  # the regions tile the grid: no point twice, none left out
    for index in itertools.product(*map(range, shape)):
        region = chunk_region(chunk_of(index, chunks), chunks, shape)
        assert all(s.start <= i < s.stop for i, s in zip(index, region)), (index, region)


@settings(max_examples=60, deadline=None)
@given(small_grid_and_chunks().flatmap(lambda case: st.tuples(st.just(case[1]),
                                                                arrays(np.bool_, case[0]))))
def test_points_per_chunk_counts_the_masked_points_of_each_chunk(case):
    chunks, mask = case
    brute: Counter = Counter()
    for index in itertools.product(*map(range, mask.shape)):
        if mask[index]:
            brute[tuple(i // c for i, c in zip(index, chunks))] += 1
    assert points_per_chunk(mask, chunks) == dict(brute)


# --- a real store of twelve points -----------------------------------------------------------

@pytest.fixture(scope="module")
def tiny6(tmp_path_factory: pytest.TempPathFactory):
    """The pipeline's folder, its plan and layout, and every point's results from ``run_ensemble`` (by index)."""
    folder = tmp_path_factory.mktemp("tiny6")
    plan = plan_file(write_pipeline(folder, TINY6))
    layout = plan.layout
    computed = {}
    for job in plan.jobs:
        (result,) = run_ensemble([job], layout)
        assert result.status == "done", result.error
        computed[tuple(job.point.index)] = result
    return folder, plan, layout, computed


def load(path: Path) -> xr.Dataset:
    """A store as a reader opens it, with ``finished_at`` kept as the seconds it stores (not decoded to dates)."""
    return xr.open_zarr(str(path), decode_times=False).load()


def expected_value(result, name: str, layout) -> np.ndarray:
    """What a reader should see of variable ``name`` at a written point: its own array, NaN when absent."""
    values = result.values.get(name)
    if values is None:
        return np.full(layout.shape(layout.variables[name]), np.nan)
    return np.asarray(values, dtype=np.float64)


def assert_point_holds(ds: xr.Dataset, result, layout) -> None:
    """The dataset holds, at the result's grid point, exactly that result."""
    index = tuple(result.index)
    for name in layout.variables:
        assert np.array_equal(ds[name].values[index], expected_value(result, name, layout), equal_nan=True), \
            (index, name)
    assert int(ds["status"].values[index]) == STATUS_CODE[result.status], index
    assert ds["error"].values[index] == result.error, index
    assert int(ds["reached_step"].values[index]) == result.reached_step[0], index
    assert float(ds["learning_rate"].values[index]) == result.learning_rate[0], index
    assert float(ds["finished_at"].values[index]) == result.finished_at, index
    assert float(ds["wall_time"].values[index]) == result.wall_time, index


def assert_point_unwritten(ds: xr.Dataset, index: tuple[int, ...], layout) -> None:
    """The dataset holds only fill values at ``index``: NaN, pending, no message, never run."""
    for name in layout.variables:
        assert np.isnan(ds[name].values[index]).all(), (index, name)
    assert int(ds["status"].values[index]) == PENDING, index
    assert ds["error"].values[index] == "", index
    assert int(ds["reached_step"].values[index]) == -1, index
    assert np.isnan(ds["learning_rate"].values[index]) and np.isnan(ds["finished_at"].values[index]), index


def grid_chunkings(path: Path, grid_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    """The chunk sizes along the grid of every array of a store that has the grid's dimensions."""
    group = zarr.open_group(str(path), mode="r")
    return {name: tuple(group[name].chunks[:len(grid_shape)]) for name in group.array_keys()
            if tuple(group[name].shape[:len(grid_shape)]) == grid_shape}


def test_two_writes_into_one_chunk_keep_each_others_points(tiny6, tmp_path: Path):
    _, plan, layout, computed = tiny6
    path = tmp_path / "two_writes.zarr"
    store = Store.prepare(path, layout, plan.pipeline)
    chunkings = grid_chunkings(path, (2, 6))
    assert set(chunkings) >= {*layout.variables, "status", "error", "finished_at"}
    assert all(c > 1 for c in chunkings["status"]), chunkings  # several points along every grid dimension
    first, second = [(0, 0), (1, 4)], [(0, 2), (1, 1), (1, 5)]
    points = np.asarray(first + second)
    for name, chunks in chunkings.items():  # the five points share one chunk of every variable
        assert (points // np.asarray(chunks) == points[0] // np.asarray(chunks)).all(), (name, chunks)
    store.write([computed[i] for i in first])
    store.write([computed[i] for i in second])
    ds = load(path)
    for index in first + second:
        assert_point_holds(ds, computed[index], layout)
    for index in itertools.product(range(2), range(6)):
        if index not in first + second:
            assert_point_unwritten(ds, index, layout)


class StatusWriteCut(Exception):
    """Injected where a flush writes its commit mark."""


class CutStatus:
    """The store's status array, readable as ever, whose writes fail: a flush cut after the
    values and before ``status``."""

    def __init__(self, array: zarr.Array):
        self.array = array

    def __getitem__(self, key: object) -> object:
        return self.array[key]

    def __setitem__(self, key: object, value: object) -> None:
        raise StatusWriteCut

    def __getattr__(self, name: str) -> object:
        return getattr(self.array, name)


def test_a_flush_cut_before_its_status_keeps_the_earlier_flush_and_resumes_to_the_uninterrupted_store(
        tiny6, tmp_path: Path, dask_client):
    _, _, layout, computed = tiny6
    plan = plan_file(write_pipeline(tmp_path, TINY6))  # store: tiny.zarr beside it
    path = tmp_path / "tiny.zarr"
    store = Store.prepare(path, layout, plan.pipeline)
    assert set(grid_chunkings(path, (2, 6)).values()) == {(2, 6)}  # every point in one chunk of every variable
    earlier, cut = [(0, 0), (0, 3), (1, 2), (1, 5)], [(0, 1), (1, 0), (1, 3)]
    store.write([computed[i] for i in earlier])
    before = load(path)
    store._arrays["status"] = CutStatus(store.array("status"))
    with pytest.raises(StatusWriteCut):
        store.write([computed[i] for i in cut])
    after = load(path)
    for index in earlier:  # the earlier flush's points: still done, the same values
        assert_point_holds(after, computed[index], layout)
        for name in after.data_vars:
            left, right = after[name].values[index], before[name].values[index]
            assert np.array_equal(left, right, equal_nan=np.asarray(left).dtype.kind == "f"), name
    for index in cut:  # the cut flush's values landed, but without their commit mark they are not done
        assert np.array_equal(after["loss"].values[index], computed[index].values["loss"])
        assert int(after["status"].values[index]) == PENDING, index

    resumed = run_plan(plan, RunOptions(cluster=ClusterOptions(client=dask_client), progress="quiet"))
    assert resumed.skipped == len(earlier) and resumed.counts["done"] == 12 - len(earlier), resumed.text()
    reference = tmp_path / "reference.zarr"
    uninterrupted = run_plan(plan, RunOptions(cluster=ClusterOptions(client=dask_client), progress="quiet",
                                              store=reference))
    assert uninterrupted.counts["done"] == 12, uninterrupted.text()
    got, want = load(path), load(reference)
    assert sorted(got.data_vars) == sorted(want.data_vars)
    for name in set(want.data_vars) - set(BOOKKEEPING):
        assert got[name].identical(want[name]), name
    assert sorted(got.coords) == sorted(want.coords)
    for name in want.coords:
        assert got[name].identical(want[name]), name
    for index in earlier:  # kept, not computed again
        assert float(got["finished_at"].values[index]) == computed[index].finished_at, index


class CtrlCWhenRead:
    """A result's values that press Ctrl-C (a real SIGINT to this process) when the store reads
    them, in the middle of its write."""

    def __init__(self, values: np.ndarray):
        self.values = values

    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        os.kill(os.getpid(), signal.SIGINT)
        return np.asarray(self.values, dtype=dtype)


@pytest.fixture
def python_sigint():
    """Python's own SIGINT handler (KeyboardInterrupt) for the test, whatever the process had
    (once, in a full run, the write delivered no KeyboardInterrupt: an earlier test in the same
    process had left another handler), and the process's handler back afterwards."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield before
    signal.signal(signal.SIGINT, before)


def test_ctrl_c_during_a_write_waits_until_every_point_and_its_status_are_written(tiny6, tmp_path: Path,
                                                                                  python_sigint):
    _, plan, layout, computed = tiny6
    store = Store.prepare(tmp_path / "ctrl_c.zarr", layout, plan.pipeline)
    points = [(0, 0), (0, 4), (1, 3)]
    pressing = copy.copy(computed[(0, 4)])
    pressing.values = {**pressing.values, "loss": CtrlCWhenRead(pressing.values["loss"])}
    with pytest.raises(KeyboardInterrupt):  # delivered, after the write
        store.write([computed[(0, 0)], pressing, computed[(1, 3)]])
    ds = load(tmp_path / "ctrl_c.zarr")
    for index in points:
        assert_point_holds(ds, computed[index], layout)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back


# --- 4. the write buffer ---------------------------------------------------------------------

class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def chunked(tiny6, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A store of the twelve points written in units of three (1 m x 3 seeds): the real chunking
    with a target of three points of the largest variable (8 bytes a value), so that one small
    scan has several chunks."""
    _, plan, layout, computed = tiny6
    largest = max(8 * math.prod(layout.shape(variable)) for variable in layout.variables.values())
    monkeypatch.setattr(chunking, "TARGET_CHUNK_BYTES", 3 * largest)
    path = tmp_path / "chunked.zarr"
    store = Store.prepare(path, layout, plan.pipeline)
    assert store.chunks == (1, 3)
    assert (1, 3) in set(grid_chunkings(path, (2, 6)).values())  # the largest variables' chunks on disk
    return store, path, layout, computed


def brute_chunk(index: tuple[int, ...]) -> tuple[int, ...]:
    return index[0], index[1] // 3


def chunk_points(chunk: tuple[int, ...]) -> list[tuple[int, int]]:
    return [(chunk[0], 3 * chunk[1] + j) for j in range(3)]


def all_expected() -> dict[tuple[int, ...], int]:
    expected: Counter = Counter(brute_chunk(index) for index in itertools.product(range(2), range(6)))
    return dict(expected)


def test_the_buffer_writes_a_chunk_exactly_when_its_last_expected_point_arrives(chunked):
    store, path, layout, computed = chunked
    clock = FakeClock()
    buffer: WriteBuffer[str] = WriteBuffer(store, all_expected(), interval=1000.0, clock=clock)
    arrivals = [(0, 0), (1, 0), (0, 1), (1, 3), (0, 2), (1, 1), (1, 4), (1, 2), (0, 5), (1, 5)]
    written_chunks: set[tuple[int, ...]] = set()
    seen: list[tuple[int, int]] = []
    for step, index in enumerate(arrivals):
        clock.now = float(step)
        seen.append(index)
        returned = buffer.add(f"job{index}", computed[index])
        chunk = brute_chunk(index)
        completes = all(point in seen for point in chunk_points(chunk))
        if completes:
            in_order = [point for point in seen if brute_chunk(point) == chunk]
            assert [(item, result.index) for item, result in returned] == \
                [(f"job{point}", computed[point].index) for point in in_order], index
            written_chunks.add(chunk)
        else:
            assert returned == [], index
        ds = load(path)
        for other in itertools.product(range(2), range(2)):
            for point in chunk_points(other):
                if other in written_chunks:
                    assert_point_holds(ds, computed[point], layout)
                else:  # nothing of a chunk is on disk before its last point arrives
                    assert_point_unwritten(ds, point, layout)
    assert written_chunks == {(0, 0), (1, 0), (1, 1)}  # (0, 1) lacks (0, 3) and (0, 4)
    assert len(buffer) == 1  # (0, 5), held for its chunk


def test_the_interval_writes_the_points_held_for_incomplete_chunks(chunked):
    store, path, layout, computed = chunked
    clock = FakeClock()
    buffer: WriteBuffer[str] = WriteBuffer(store, all_expected(), interval=5.0, clock=clock)
    assert buffer.add("a", computed[(0, 0)]) == []
    clock.now = 3.0
    assert buffer.add("b", computed[(1, 4)]) == []
    assert buffer.due_in() == 2.0
    ds = load(path)
    for index in [(0, 0), (1, 4)]:
        assert_point_unwritten(ds, index, layout)
    clock.now = 5.0  # the interval has passed: this add writes everything held, in three incomplete chunks
    returned = buffer.add("c", computed[(0, 3)])
    assert [item for item, _ in returned] == ["a", "b", "c"]
    ds = load(path)
    for index in [(0, 0), (1, 4), (0, 3)]:
        assert_point_holds(ds, computed[index], layout)
    assert (ds["status"].values == DONE).sum() == 3
    clock.now = 6.0  # the interval counts again from that flush
    assert buffer.add("d", computed[(1, 0)]) == [] and buffer.due_in() == 4.0
    assert_point_unwritten(load(path), (1, 0), layout)
    assert [item for item, _ in buffer.flush()] == ["d"]
    assert_point_holds(load(path), computed[(1, 0)], layout)


def test_the_buffer_returns_the_points_it_writes_in_the_order_they_arrived(chunked):
    store, _, _, computed = chunked
    clock = FakeClock()
    buffer: WriteBuffer[str] = WriteBuffer(store, all_expected(), interval=5.0, clock=clock)
    arrivals = [(0, 0), (1, 0), (0, 1), (1, 4), (0, 3), (1, 1)]  # chunks (0,0), (1,0), (0,0), (1,1), (0,1), (1,0)
    for step, index in enumerate(arrivals[:-1]):
        clock.now = 0.5 * step
        assert buffer.add(f"job{index}", computed[index]) == []
    clock.now = 10.0
    returned = buffer.add(f"job{arrivals[-1]}", computed[arrivals[-1]])  # due: a flush of everything held
    assert [item for item, _ in returned] == [f"job{index}" for index in arrivals]
    assert [tuple(result.index) for _, result in returned] == arrivals


def store_files(path: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file of a store with its modification time, size and content."""
    out = {}
    for folder, _, names in os.walk(path):
        for name in names:
            file = Path(folder) / name
            stat = file.stat()
            out[str(file.relative_to(path))] = (stat.st_mtime_ns, stat.st_size, file.read_bytes())
    return out


def test_points_whose_write_failed_stay_in_the_buffer_and_the_next_flush_writes_them(chunked):
    store, path, layout, computed = chunked
    buffer: WriteBuffer[str] = WriteBuffer(store, all_expected(), interval=1000.0, clock=FakeClock())
    status = store.array("status")
    buffer.add("a", computed[(0, 0)])
    buffer.add("b", computed[(1, 4)])
    store._arrays["status"] = CutStatus(status)
    with pytest.raises(StatusWriteCut):
        buffer.flush()
    assert len(buffer) == 2
    store._arrays["status"] = status
    assert [item for item, _ in buffer.flush()] == ["a", "b"] and len(buffer) == 0
    ds = load(path)
    for index in [(0, 0), (1, 4)]:
        assert_point_holds(ds, computed[index], layout)


def test_flushing_an_empty_buffer_writes_nothing(chunked):
    store, path, _, computed = chunked
    clock = FakeClock()
    buffer: WriteBuffer[str] = WriteBuffer(store, all_expected(), interval=5.0, clock=clock)
    untouched = store_files(path)
    assert buffer.flush() == [] and len(buffer) == 0
    assert store_files(path) == untouched
    buffer.add("a", computed[(0, 0)])
    assert [item for item, _ in buffer.flush()] == ["a"]
    written = store_files(path)
    assert written != untouched
    clock.now = 20.0  # even when the interval has passed: what was written left the buffer
    assert buffer.flush() == [] and len(buffer) == 0
    assert store_files(path) == written


# --- 5. the store of a scan ------------------------------------------------------------------

THOUSAND = """\
name: thousand
grid:
  seed: 1000
stages:
  data: {plugin: separable, params: {n: 2, L: 3, d_x: 3, d: 1, delta: 0.1}}
  init: {plugin: paper, params: {m: 8}}
  train: {plugin: gd, params: {steps: 2, lr: 0.05/m}, needs: [data, init]}
  diagnose: {plugins: [loss], schedule: {log: 2}, needs: [train]}
store: thousand.zarr
"""
ACTIVE = {"waiting", "queued", "processing", "no-worker"}  # a task submitted and not yet finished


class InFlight(SchedulerPlugin):
    """Follows every batch task's state on the scheduler: the most at once in ACTIVE states,
    and every batch that was processed."""

    def __init__(self) -> None:
        self.active: set[str] = set()
        self.most = 0
        self.processed: set[str] = set()

    def transition(self, key, start, finish, *args, **kwargs) -> None:
        name = str(key)
        if not name.startswith("run_batch"):
            return
        if finish in ACTIVE:
            self.active.add(name)
        else:
            self.active.discard(name)
        if finish == "processing":
            self.processed.add(name)
        self.most = max(self.most, len(self.active))


def run_watched(plan: Plan, **options: Any) -> tuple[RunSummary, InFlight]:
    """``run_plan`` on a local cluster of two one-thread workers whose scheduler an ``InFlight``
    watches; the run's summary and the watcher."""
    plugin = InFlight()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0") as cluster:
        cluster.scheduler.add_plugin(plugin)
        summary = run_plan(plan, RunOptions(cluster=ClusterOptions(scheduler=cluster.scheduler_address),
                                            progress="quiet", **options))
    return summary, plugin


SLOW_BATCHES = """\
name: slow-batches
grid:
  seed: 24
stages:
  data: {plugin: separable, params: {n: 8, L: 6, d_x: 4, d: 2, delta: 0.1}}
  init: {plugin: paper, params: {m: 64}}
  train: {plugin: gd, params: {steps: 150, lr: 0.05/m}, needs: [data, init]}
  diagnose: {plugins: [loss], schedule: {log: 2}, needs: [train]}
store: slow.zarr
"""


def test_waking_to_flush_between_finished_batches_submits_nothing_more(tmp_path: Path):
    # with --flush-every 0 the client wakes every 0.05 s to write, many times while a batch runs;
    # each wake that submitted one batch past the bound let a 10^5-point scan hold 20 batches by
    # its middle instead of IN_FLIGHT_PER_SLOT per thread (a client peak of 656 MB, 444 MB bounded)
    plan = plan_file(write_pipeline(tmp_path, SLOW_BATCHES))
    summary, plugin = run_watched(plan, tasks_per_batch=1, max_ensemble=1, flush_interval=0)
    assert summary.ok and summary.counts["done"] == 24, summary.text()
    assert len(plugin.processed) == 24
    assert plugin.most == IN_FLIGHT_PER_SLOT * 2, plugin.most  # two worker threads, kept full


def test_a_thousand_point_scan_makes_few_files_opens_cleanly_and_keeps_few_batches_in_flight(tmp_path: Path):
    plan = plan_file(write_pipeline(tmp_path, THOUSAND))
    path = tmp_path / "thousand.zarr"
    summary, plugin = run_watched(plan, tasks_per_batch=1, max_ensemble=1)
    assert summary.ok and summary.counts["done"] == 1000, summary.text()
    files = sum(len(names) for _, _, names in os.walk(path))
    assert files <= 200, files
    slots = 2
    assert len(plugin.processed) == 1000 > IN_FLIGHT_PER_SLOT * slots  # one batch per point
    # the client submits a batch only when one of its IN_FLIGHT_PER_SLOT * slots has finished
    assert 1 <= plugin.most <= IN_FLIGHT_PER_SLOT * slots, plugin.most
    script = ("import sys, xarray as xr\n"
              f"ds = xr.open_zarr({str(path)!r})\n"
              "assert not any(m.split('.')[0] in ('framework', 'plugins') for m in sys.modules)\n"
              "print(ds.sizes['seed'], int((ds.status == 1).sum()), int(ds.loss.notnull().all()))")
    out = subprocess.run([sys.executable, "-W", "error", "-c", script], capture_output=True, text=True,
                         cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1000", str(DONE * 1000), "1"]
