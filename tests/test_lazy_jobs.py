"""Jobs made on access (framework/planning/jobs.py): each grid point's job resolves exactly as
the pipeline file says, whatever axes its stages name; a grid of a million points is validated
through its distinct resolutions in seconds; a problem at some grid points is counted right."""
from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest

from framework.configuration.source import PipelineError
from framework.engine.seeds import stage_seed
from framework.planning.plan import plan_file
from scans import write_pipeline

NAMED = """\
name: named
seed: 7
grid:
  m: [16, 24]
  delta: [0.1, 0.3]
  scale: [1.0, 2.0]
  seed: 3
stages:
  data: {plugin: separable, params: {n: 3, L: 3, d_x: 3, d: 1, delta: "${grid.delta}"}}
  init: {plugin: paper, params: {m: "${grid.m}"}}
  train: {plugin: gd, params: {steps: 4, lr: 0.05*scale/m}, needs: [data, init]}
  diagnose: {plugins: [loss], schedule: {log: 2}, needs: [train]}
store: named.zarr
"""


def test_every_job_has_the_parameters_and_seeds_its_grid_point_gives(tmp_path: Path):
    plan = plan_file(write_pipeline(tmp_path, NAMED))
    points = list(itertools.product([16, 24], [0.1, 0.3], [1.0, 2.0], range(3)))
    assert len(plan.jobs) == len(points) == 24
    for number, (m, delta, scale, seed) in enumerate(points):
        for job in (plan.jobs[number], list(plan.jobs)[number]):
            assert dict(job.point.values) == {"m": m, "delta": delta, "scale": scale, "seed": seed}
            assert job.init.params.m == m and job.data.params.delta == delta
            assert job.trainings[0].call.params.lr == pytest.approx(0.05 * scale / m, rel=1e-15)
            for call in job.calls:  # the root seed 7, the stage and the replica: nothing else
                assert call.seed == stage_seed(7, call.stage, seed), call.stage
    assert plan.jobs[-1].point.values == plan.jobs[23].point.values
    assert [job.point.index for job in plan.jobs[2:5]] == [(0, 0, 0, 2), (0, 0, 1, 0), (0, 0, 1, 1)]
    with pytest.raises(IndexError):
        plan.jobs[24]


def test_a_million_point_grid_validates_in_seconds(tmp_path: Path):
    text = NAMED.replace("seed: 3", "seed: 125000")  # 2 x 2 x 2 x 125,000 = 10^6 points
    start = time.perf_counter()
    plan = plan_file(write_pipeline(tmp_path, text))
    elapsed = time.perf_counter() - start
    assert len(plan.jobs) == 1_000_000
    assert elapsed < 10, elapsed  # 0.3 s here: 8 distinct resolutions, not 10^6
    assert plan.sharing()["data"] == (2 * 125_000, 1_000_000)  # a data set per (δ, replica): m and scale share it
    last = plan.jobs[999_999]
    assert last.point.values == {"m": 24, "delta": 0.3, "scale": 2.0, "seed": 124_999}


def test_a_problem_at_some_grid_points_names_the_first_and_counts_every_one(tmp_path: Path):
    text = NAMED.replace("m: [16, 24]", "m: [16, 0, 24]").replace("seed: 3", "seed: 50")
    with pytest.raises(PipelineError) as refused:
        plan_file(write_pipeline(tmp_path, text))
    # m = 0 at 1 x 2 x 2 x 50 = 200 of the 600 points, first at m=0, delta=0.1, scale=1.0, seed=0
    message = str(refused.value)
    assert "(at m=0, delta=0.1, scale=1.0, seed=0 and 199 more grid points)" in message, message


def test_a_seed_is_the_blake2b_of_its_labels_json_whatever_their_types():
    """derive_seed's definition (framework/engine/seeds.py): the top 63 bits of blake2b over
    json.dumps([root, *labels], sort_keys=True, default=str), computed here from that definition
    for plain scalars (which take a faster path), numpy integers, tuples, dicts and None: every
    store's seeds stay what they were."""
    import hashlib
    import json

    import numpy as np

    from framework.engine.seeds import derive_seed

    def by_definition(root, *labels):
        text = json.dumps([root, *labels], sort_keys=True, default=str)
        return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big") >> 1

    cases = [(0, "stage", "data", 0), (7, "stage", "diagnose", 2499), (2**62, "stage", "ünïcode\n\"", -3),
             (3, "stage", "train", 1.5), (3, "stage", "train", True), (3, "stage", "train", None),
             (3, "stage", "train", np.int64(4)), (3, "stage", "train", (1, "a")), (3, "x", {"b": 1, "a": [2]})]
    for case in cases:
        assert derive_seed(*case) == by_definition(*case), case
    assert derive_seed(3, "stage", "train", np.int64(4)) != derive_seed(3, "stage", "train", 4)  # str(4) is quoted
