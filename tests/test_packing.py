"""Ensembles (docs/architecture.md, "Ensembles"): grid points packed into one task give exactly what they give alone."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from overparam.engine import member_sum
from framework.execution.task import initial_weights, run_ensemble

from framework.planning.tasks import Packing
from framework.planning.plan import plan_file
from plugins.optimizers import GradientDescent
from scans import spread, write_pipeline

MIXED = """\
name: mixed
dtype: {dtype}
grid:
  lr: [0.01, 0.03, 0.06]
  seed: 2
  delta: [0.2, 0.3]
stages:
  data: {{plugin: separable, params: {{n: 8, L: 5, d_x: 4, d: 3, delta: "${{grid.delta}}"}}}}
  init: {{plugin: paper, params: {{m: 32}}}}
  train: {{plugin: {optimizer}, params: {{steps: 40, lr: "${{grid.lr}}/sqrt(m)", train: WAB}}, needs: [data, init]}}
  diagnose:
    plugins: [loss, pl_ratio, weight_distance, dprime_sparsity, perturbation_norms, forward_norms,
              fresh_randomness, separability, {{chain_norms: {{every: 1}}}}, {{semi_smoothness: {{every: 1}}}}]
    schedule: {{log: 6}}
    needs: [train]
  summary: {{plugins: [rate], needs: [train]}}
"""


def mixed_plan(tmp_path, optimizer="sgd", dtype="float64", text=MIXED):
    return plan_file(write_pipeline(tmp_path, text.format(optimizer=optimizer, dtype=dtype), f"{optimizer}-{dtype}.yaml"))


@pytest.mark.parametrize("optimizer", ["gd", "sgd", "minibatch"])
def test_a_member_of_an_ensemble_gives_bit_for_bit_what_it_gives_alone_in_float64(tmp_path, optimizer):
    plan = mixed_plan(tmp_path, optimizer)
    layout = plan.layout
    jobs = list(plan.jobs)
    assert len(Packing("float64").tasks(jobs)) == 1  # lr, seed and δ differ: one ensemble of 12
    together = run_ensemble(jobs, layout)
    assert all(r.status == "done" for r in together)
    for job, packed in spread(list(zip(jobs, together))):
        alone = run_ensemble([job], layout)[0]
        assert packed.values.keys() == alone.values.keys()
        for name in alone.values:
            assert np.array_equal(packed.values[name], alone.values[name], equal_nan=True), (job.point.label(), name)


def test_a_member_does_not_depend_on_which_others_share_its_task(tmp_path):
    plan = mixed_plan(tmp_path, "sgd")
    layout = plan.layout
    jobs = list(plan.jobs)
    first = run_ensemble(jobs[:3], layout)
    second = run_ensemble([jobs[7], jobs[1], jobs[11]], layout)
    for name in first[1].values:
        assert np.array_equal(first[1].values[name], second[1].values[name], equal_nan=True), name


def test_float32_members_agree_with_themselves_alone_to_1e6(tmp_path):
    plan = mixed_plan(tmp_path, "gd", "float32")
    layout = plan.layout
    jobs = list(plan.jobs)[:6]
    together = run_ensemble(jobs, layout, dtype="float32")
    for job, packed in zip(jobs, together):
        alone = run_ensemble([job], layout, dtype="float32")[0]
        for name in ("loss", "pl_ratio", "h_norm_max", "rate"):
            np.testing.assert_allclose(packed.values[name], alone.values[name], rtol=1e-6, atol=0)


def test_a_diverging_member_is_masked_while_the_others_finish(tmp_path):
    text = MIXED.replace("lr: [0.01, 0.03, 0.06]", "lr: [0.01, 12.0, 0.06]")
    plan = mixed_plan(tmp_path, "gd", text=text)
    layout = plan.layout
    jobs = list(plan.jobs)
    together = run_ensemble(jobs, layout)
    statuses = {job.point.values["lr"]: set() for job in jobs}
    for job, result in zip(jobs, together):
        statuses[job.point.values["lr"]].add(result.status)
        if result.status == "done":
            alone = run_ensemble([job], layout)[0]
            assert np.array_equal(result.values["loss"], alone.values["loss"], equal_nan=True)
        else:
            assert 0 < result.reached_step[0] < 40 and "non-finite" in result.error
            after = np.asarray(layout.steps) > result.reached_step[0]
            assert np.isnan(result.values["loss"][after]).all()
    assert statuses == {0.01: {"done"}, 12.0: {"diverged"}, 0.06: {"done"}}


def test_jobs_that_differ_in_shape_or_optimizer_are_never_packed_together(tmp_path):
    text = """\
name: shapes
grid:
  m: [16, 32]
  optimizer: [gd, sgd, minibatch]
  batch: [1, 2]
  L: [3, 4]
  lr: [0.01, 0.02]
stages:
  data: {plugin: separable, params: {n: 8, L: "${grid.L}", d_x: 3, d: 2, delta: 0.2}}
  init: {plugin: paper, params: {m: "${grid.m}"}}
  train: {plugin: "${grid.optimizer}", params: {steps: 5, lr: "${grid.lr}"}, needs: [data, init]}
"""
    plan = plan_file(write_pipeline(tmp_path, text))
    packs = Packing("float64").tasks(list(plan.jobs))
    for pack in packs:
        first = pack[0].point.values
        for job in pack:
            assert {k: job.point.values[k] for k in ("m", "optimizer", "L")} == {k: first[k] for k in ("m", "optimizer", "L")}
    # 2 widths × 3 optimizers × 2 lengths: the batch axis is unused, so lr and batch vary inside a pack
    assert len(packs) == 12 and all(len(p) == 4 for p in packs)


def test_unaligned_shapes_pack_unless_their_optimizer_would_move_the_padding(tmp_path, monkeypatch):
    """n = 5 (float64) and n = 8 (float32, which needs 16) are padded and packed
    (tests/test_padding.py checks they stay exact); an optimizer that does not keep zero padding
    at zero leaves them unpadded, one per task."""
    plan = mixed_plan(tmp_path, "gd", text=MIXED.replace("n: 8,", "n: 5,"))
    assert [len(p) for p in Packing("float64").tasks(list(plan.jobs))] == [12]
    single = mixed_plan(tmp_path, "gd", "float32")
    assert [len(p) for p in Packing("float32").tasks(list(single.jobs))] == [12]
    monkeypatch.setattr(GradientDescent, "keeps_padding_zero", False)
    assert [len(p) for p in Packing("float64").tasks(list(plan.jobs))] == [1] * 12
    assert [len(p) for p in Packing("float32").tasks(list(single.jobs))] == [1] * 12
    aligned = mixed_plan(tmp_path, "gd")  # n = 8, m = 32 in float64 needs no padding: still packed
    assert [len(p) for p in Packing("float64").tasks(list(aligned.jobs))] == [12]


def test_pack_sizes_respect_max_ensemble_memory_and_the_number_of_workers(tmp_path):
    plan = mixed_plan(tmp_path, "gd")
    jobs = list(plan.jobs)  # 12 compatible jobs
    assert [len(p) for p in Packing("float64", 5).tasks(jobs)] == [5, 5, 2]
    one = Packing("float64").task_shape(jobs[0], 1, 1).member_bytes
    assert [len(p) for p in Packing("float64", task_bytes=3 * one).tasks(jobs)] == [3, 3, 3, 3]
    assert [len(p) for p in Packing("float64", slots=2).tasks(jobs)] == [6, 6]
    covered = [job.point.index for pack in Packing("float64", 5).tasks(jobs) for job in pack]
    assert sorted(covered) == sorted(job.point.index for job in jobs)


def test_a_members_estimate_covers_its_real_weights_and_scales_with_dtype_and_width(tmp_path):
    """The memory a member is charged holds at least six copies of the weights it really trains
    (weights, W0, gradient, update, optimizer state; counted from the tensors its initializer
    draws), halves from float64 to float32 where both align alike, and grows as m² for wide
    networks (the m×m terms dominate)."""
    def member(width: int, dtype: str) -> tuple[int, int]:
        text = MIXED.replace("m: 32", f"m: {width}").replace("n: 8,", "n: 16,")
        job = mixed_plan(tmp_path, "gd", dtype, text=text).jobs[0]
        shape = Packing(dtype).task_shape(job, 1, 1)
        weights = shape.padding.weights(initial_weights([job]).to(torch.device("cpu"), shape.dtype))
        trained = sum(weights.tensors[name].numel() * weights.tensors[name].element_size()
                      for name in job.network().trained_by_default)
        return shape.member_bytes, trained

    for width in (32, 256):
        estimate, trained = member(width, "float64")
        assert estimate >= 6 * trained
        assert member(width, "float32")[0] * 2 == estimate  # n = 16, m = 32 or 256: no padding in either dtype
    wide, wider = member(1024, "float64")[0], member(2048, "float64")[0]
    assert 3.5 < wider / wide <= 4.0


def test_large_members_reduce_in_the_same_order_alone_and_together(tmp_path):
    """m² = 65,536 gradient entries: a single reduction that large is split across threads when it
    is the only output (K = 1); ``member_sum`` keeps each member's order fixed."""
    text = MIXED.replace("m: 32", "m: 256").replace("steps: 40", "steps: 6").replace("lr: [0.01, 0.03, 0.06]", "lr: [0.01]")
    plan = mixed_plan(tmp_path, "gd", text=text)
    layout = plan.layout
    jobs = list(plan.jobs)[:3]
    together = run_ensemble(jobs, layout)
    for job, packed in spread(list(zip(jobs, together)), 2):
        alone = run_ensemble([job], layout)[0]
        for name in ("loss", "pl_ratio", "weight_distance_frobenius", "semi_smoothness_inner"):
            assert np.array_equal(packed.values[name], alone.values[name], equal_nan=True), name


def test_member_sum_is_the_sum_and_does_not_depend_on_the_ensemble_size():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 300, 301, generator=g, dtype=torch.float64)
    together = member_sum(x)
    for k in range(4):
        assert torch.equal(member_sum(x[k : k + 1])[0], together[k])
        assert together[k].item() == pytest.approx(float(np.sum(x[k].numpy(), dtype=np.float64)), rel=1e-12)


def test_wide_networks_are_packed_like_narrow_ones_and_the_task_measures_its_parts(tmp_path):
    """No byte budget of the planner's: 12 members of m = 512 make one task in float32 and in
    float64 (it took 4 and 2 on a CPU before); only ``task_bytes`` bounds a task. Which part
    size steps fastest is the task's to measure (tests/test_ensemble_choice.py)."""
    text = MIXED.replace("m: 32", "m: 512").replace("n: 8,", "n: 16,")
    plan = mixed_plan(tmp_path, "gd", "float32", text=text)
    jobs = list(plan.jobs)
    assert [len(p) for p in Packing("float32").tasks(jobs)] == [12]
    assert [len(p) for p in Packing("float64").tasks(jobs)] == [12]
    one = Packing("float64").task_shape(jobs[0], 1, 1).member_bytes
    assert [len(p) for p in Packing("float64", task_bytes=5 * one).tasks(jobs)] == [5, 5, 2]
