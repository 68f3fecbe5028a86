"""Zero padding (framework.engine.padding): networks of any n and m run as ensembles, bit for bit
as they run alone, and what they compute is the unpadded network's.

References: torch autograd of the paper's loss written as loops (tests/reference.py) for the
trajectories; the engine run without padding (an optimizer marked ``keeps_padding_zero =
False`` is never padded) for every diagnostic, which the rest of the suite checks against
brute force.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from framework.contract.diagnostic import ProblemShape
from overparam.engine import Elman
from framework.engine.padding import Padding
from framework.engine.tensors import Problem, Weights
from framework.execution import measured_together
from framework.execution.task import run_ensemble
from framework.execution.training import train
from framework.plugin_system.ensemble_check import example_problem, example_weights
from framework.planning.plan import plan_file
from framework.planning.tasks import Packing, padding_of

from plugins.diagnostics.loss import Loss
from plugins.optimizers import GradientDescent, MinibatchSGD, SequenceSampler, StochasticGradientDescent
from reference import autograd_gradient, loop_loss
from scans import spread, write_pipeline

UNALIGNED = """\
name: unaligned
dtype: {dtype}
grid:
  lr: [0.002, 0.005, auto]
  seed: 2
  delta: [0.2, 0.3]
stages:
  data: {{plugin: separable, params: {{n: {n}, L: 5, d_x: 4, d: 3, delta: "${{grid.delta}}"}}}}
  init: {{plugin: paper, params: {{m: {m}}}}}
  train: {{plugin: {optimizer}, params: {{steps: 30, lr: "${{grid.lr}}", train: WAB}}, needs: [data, init]}}
  diagnose:
    plugins: [loss, pl_ratio, weight_distance, dprime_sparsity, perturbation_norms, forward_norms,
              fresh_randomness, separability, {{chain_norms: {{every: 1}}}}, {{semi_smoothness: {{every: 1}}}}]
    schedule: {{log: 5}}
    needs: [train]
  summary: {{plugins: [rate], needs: [train]}}
"""


def unaligned_plan(tmp_path, optimizer="gd", n=5, m=12, dtype="float64"):
    text = UNALIGNED.format(optimizer=optimizer, n=n, m=m, dtype=dtype)
    return plan_file(write_pipeline(tmp_path, text, f"{optimizer}-{n}-{m}-{dtype}.yaml"))


# --- the trajectory is the unpadded network's ------------------------------------------------

def autograd_trajectory(weights: Weights, problem: Problem, lr: float, steps: int, batches=None) -> tuple[list, dict]:
    """f at every step and the final W, A, B of one network trained by plain autograd gradient
    steps on ``loop_loss`` (on the sequences ``batches[t]`` at step t, scaled by 1/b, when given)."""
    current = {"W": weights.W[0], "A": weights.A[0], "B": weights.B[0]}
    X, Y = problem.X[0], problem.Y[0]
    losses = []
    for t in range(steps + 1):
        losses.append(float(loop_loss(current["W"], current["A"], current["B"], X, Y)))
        if t == steps:
            break
        rows = slice(None) if batches is None else batches[t]
        scale = 1.0 if batches is None else 1.0 / len(batches[t])
        gradient = autograd_gradient(current["W"], current["A"], current["B"], X[rows], Y[rows])
        current = {name: current[name] - lr * scale * gradient[name] for name in current}
    return losses, current


@settings(max_examples=12, deadline=None)
@given(n=st.integers(1, 11), m=st.integers(1, 13), L=st.integers(2, 4), optimizer=st.sampled_from(["gd", "minibatch"]))
def test_a_padded_network_trains_as_the_unpadded_one_and_its_padding_stays_zero(n, m, L, optimizer):
    shape = ProblemShape(n=n, L=L, m=m, d_x=3, d=2, layers=L)
    problem, weights = example_problem(1, shape), example_weights(2, shape)
    padding = Padding.aligning(n, m, torch.float64)
    assert padding.n_padded % 8 == 0 and padding.m_padded % 8 == 0 and padding.n_padded - n < 8
    rule = GradientDescent() if optimizer == "gd" else MinibatchSGD()
    extra = {} if optimizer == "gd" else {"batch_size": max(1, n // 2)}
    params = rule.Params(steps=6, lr=0.02, train="WAB", **extra)
    padded_problem = padding.problem(problem)
    assert padded_problem.n == n and padded_problem.rows == padding.n_padded
    got = train(rule, params, padding.weights(weights), padded_problem, torch.tensor([0.02], dtype=torch.float64), [7], range(7), Elman())
    batches = None
    if optimizer == "minibatch":  # the sequences the sampler draws from the real n, as SGD on the unpadded data would
        sampler = SequenceSampler([7], n, params.batch_size, torch.device("cpu"))
        batches = [sampler.next()[0] for _ in range(6)]
    losses, final = autograd_trajectory(weights, problem, 0.02, 6, batches)
    np.testing.assert_allclose(got.loss[:, 0].numpy(), losses, rtol=1e-11, atol=1e-14)
    real = padding.real_weights(got.weights)
    for name in "WAB":
        torch.testing.assert_close(getattr(real, name)[0], final[name], rtol=1e-10, atol=1e-13)
    assert not padding.moved(got.weights)


def test_sgd_on_a_padded_problem_samples_only_real_sequences():
    shape = ProblemShape(n=3, L=3, m=5, d_x=3, d=2, layers=3)
    problem = Padding.aligning(3, 5, torch.float64).problem(example_problem(3, shape))
    rule = StochasticGradientDescent()
    state = rule.start(rule.Params(steps=1, lr=0.1), problem, [1, 2, 3, 4])
    drawn = torch.cat([state.next() for _ in range(300)])
    assert set(drawn.unique().tolist()) == {0, 1, 2}  # every real sequence, never one of the 5 zero ones


# --- a member of an unaligned shape, alone and in an ensemble --------------------------------

@pytest.mark.parametrize("optimizer", ["gd", "sgd", "minibatch"])
def test_an_unaligned_member_of_an_ensemble_gives_bit_for_bit_what_it_gives_alone(tmp_path, optimizer):
    """n = 7, m = 30: packed without padding, 83 values of six such members differed from alone."""
    plan = unaligned_plan(tmp_path, optimizer, n=7, m=30)
    layout = plan.layout
    jobs = list(plan.jobs)
    assert [len(task) for task in Packing("float64").tasks(jobs)] == [12]  # packed, padded to n = 8, m = 32
    together = run_ensemble(jobs, layout)
    assert all(r.status == "done" for r in together), [r.error for r in together]
    for job, packed in spread(list(zip(jobs, together))):
        alone = run_ensemble([job], layout)[0]
        assert packed.learning_rate == alone.learning_rate
        for name in alone.values:
            assert np.array_equal(packed.values[name], alone.values[name], equal_nan=True), (job.point.label(), name)


def test_float32_unaligned_members_agree_with_themselves_alone_to_1e6(tmp_path):
    """n = 5, m = 20 in float32: packed without padding, 172 values of six members differed from alone."""
    plan = unaligned_plan(tmp_path, "gd", n=5, m=20, dtype="float32")
    layout = plan.layout
    jobs = list(plan.jobs)[:6]
    assert padding_of(jobs[0], "float32") == Padding(5, 20, 16, 32)
    together = run_ensemble(jobs, layout, dtype="float32")
    for job, packed in zip(jobs, together):
        alone = run_ensemble([job], layout, dtype="float32")[0]
        for name in ("loss", "pl_ratio", "h_norm_max", "rate"):
            np.testing.assert_allclose(packed.values[name], alone.values[name], rtol=1e-6, atol=0)


# --- diagnostics see the real network --------------------------------------------------------

def test_every_diagnostic_of_a_padded_network_equals_the_unpadded_networks(tmp_path, monkeypatch):
    """Against the engine never padded: had a diagnostic seen the zero neurons or sequences, m
    in the PL ratio, the counts of ‖D′‖₀, the bases of §4 and the norms would all differ."""
    plan = unaligned_plan(tmp_path, "sgd", n=5, m=12)
    layout = plan.layout
    jobs = list(plan.jobs)[:6]
    padded = run_ensemble(jobs, layout)
    monkeypatch.setattr(StochasticGradientDescent, "keeps_padding_zero", False)
    assert not padding_of(jobs[0], "float64").active
    assert [len(task) for task in Packing("float64").tasks(jobs)] == [1] * 6  # unpadded: one per task again
    for job, result in zip(jobs, padded):
        (unpadded,) = run_ensemble([job], layout)
        assert result.learning_rate == unpadded.learning_rate  # lr: auto measured on the real network alone
        assert result.values.keys() == unpadded.values.keys()
        for name, value in unpadded.values.items():
            np.testing.assert_allclose(result.values[name], value, rtol=1e-9, atol=1e-12, equal_nan=True,
                                       err_msg=f"{job.point.label()} {name}")


def test_an_optimizer_that_moves_the_padding_fails_its_points_naming_itself(tmp_path, monkeypatch):
    plan = unaligned_plan(tmp_path, "gd", n=5, m=12)
    layout = plan.layout
    step = GradientDescent.step

    def noisy(self, params, state, weights, problem, lr, network):
        moved = step(self, params, state, weights, problem, lr, network)
        return moved.replace(W=moved.W + 1e-3)  # touches every entry, the zero neurons' too

    monkeypatch.setattr(GradientDescent, "step", noisy)
    (result,) = run_ensemble([list(plan.jobs)[0]], layout)
    assert result.status == "failed"
    assert "optimizer 'gd' (stage train) moved the zero padding" in result.error
    assert "keeps_padding_zero = False" in result.error


# --- a padded ensemble's diagnostics, measured all members at once ---------------------------

@pytest.fixture
def fresh_decisions(monkeypatch):
    """No kind of measurement checked yet in this process (``measured_together``)."""
    monkeypatch.setattr(measured_together, "_DECISIONS", {})


def recording_sizes(monkeypatch, perturb_together: bool = False) -> list[tuple[int, int]]:
    """Make ``loss`` record (step, K) of every probe it measures; with ``perturb_together``,
    also add (K - 1) ulps to f, as a kernel that rounds by a block's place would."""
    measure = Loss.measure
    seen: list[tuple[int, int]] = []

    def recorded(self, params, probe):
        seen.append((probe.step, probe.K))
        values = measure(self, params, probe)
        if perturb_together:
            values["loss"] = values["loss"] * (1 + (probe.K - 1) * torch.finfo(torch.float64).eps)
        return values

    monkeypatch.setattr(Loss, "measure", recorded)
    return seen


def test_a_padded_ensemble_is_measured_all_at_once_after_one_check_and_as_each_member_alone(
        tmp_path, monkeypatch, fresh_decisions):
    """n = 7, m = 30: every member's every value equals its value alone bit for bit, and after
    the first logged step (measured both ways and compared) one probe of all 12 members serves
    every step, where before each member had a probe of its own at every step."""
    plan = unaligned_plan(tmp_path, "gd", n=7, m=30)
    jobs = list(plan.jobs)
    seen = recording_sizes(monkeypatch)
    together = run_ensemble(jobs, plan.layout)
    logged = sorted({step for step, _ in seen})
    checked = sorted({step for step, size in seen if size == 1})  # the first step of each set of diagnostics due
    diagnostic_kinds = [kind for kind in measured_together._DECISIONS if kind[0] != "lr: auto"]
    assert len(checked) == len(diagnostic_kinds) < len(logged) - 2, (checked, logged)
    assert all(measured_together._DECISIONS.values())
    assert len(measured_together._DECISIONS) == len(diagnostic_kinds) + 1  # lr: auto's rates, all at once too
    for step in logged:
        sizes = sorted(size for at, size in seen if at == step)
        assert sizes == ([1] * 12 + [12] if step in checked else [12]), (step, sizes)
    for job, packed in spread(list(zip(jobs, together))):
        alone = run_ensemble([job], plan.layout)[0]
        assert packed.learning_rate == alone.learning_rate
        for name in alone.values:
            assert np.array_equal(packed.values[name], alone.values[name], equal_nan=True), (job.point.label(), name)


def test_a_measurement_that_differs_together_is_made_member_by_member(tmp_path, monkeypatch, fresh_decisions):
    """A diagnostic whose last bits depend on the ensemble's size (as a BLAS kernel's may, by
    where a cut-back member's block sits): the check finds it, and every member keeps its value
    alone, measured on its own from then on."""
    plan = unaligned_plan(tmp_path, "gd", n=5, m=12)
    jobs = list(plan.jobs)[:4]
    seen = recording_sizes(monkeypatch, perturb_together=True)
    together = run_ensemble(jobs, plan.layout)
    assert [kind for kind, together in measured_together._DECISIONS.items() if not together] == [
        kind for kind in measured_together._DECISIONS if kind[0] != "lr: auto"]  # lr: auto is unperturbed
    together_once = [step for step, size in seen if size == 4]
    diagnostic_kinds = [kind for kind in measured_together._DECISIONS if kind[0] != "lr: auto"]
    assert len(together_once) == len(diagnostic_kinds)  # the checks, then member by member
    assert sorted(size for step, size in seen if step == 0) == [1, 1, 1, 1, 4]
    for job, packed in zip(jobs, together):
        (alone,) = run_ensemble([job], plan.layout)
        assert np.array_equal(packed.values["loss"], alone.values["loss"], equal_nan=True)
