"""The update rules of Theorems 1-2 and the training loop, against autograd and brute force."""
from __future__ import annotations

import itertools
from collections import Counter

import pytest
import torch

from conftest import make_problem, make_weights
from overparam import Problem
from overparam.engine import Elman, log_schedule, train
from plugins.optimizers import GradientDescent, MinibatchSGD, StochasticGradientDescent
from reference import autograd_gradient

torch.set_default_dtype(torch.float64)


def small_setup(n: int = 4, m: int = 12, seed: int = 0):
    problem = make_problem(seed, n=n, L=4, d_x=4, d=2, delta=0.2)
    return problem, make_weights(m, 4, 2, seed=seed)


def sequence_gradients(weights, problem: Problem) -> list[dict[str, torch.Tensor]]:
    """∇f_i for every sequence i of member 0, by autograd of the loop reference."""
    X, Y = problem.X[0], problem.Y[0]
    return [autograd_gradient(weights.W[0], weights.A[0], weights.B[0], X[i : i + 1], Y[i : i + 1])
            for i in range(problem.n)]


@pytest.mark.parametrize("train_what", ["W", "WAB"])
def test_gd_step_is_w_minus_lr_times_autograd_gradient(train_what):
    problem, weights = small_setup()
    optimizer = GradientDescent()
    params = optimizer.parse_params({"steps": 1, "lr": 0.01, "train": train_what})
    lr = torch.tensor([0.01])
    after = optimizer.step(params, None, weights, problem, lr, Elman())
    full = autograd_gradient(weights.W[0], weights.A[0], weights.B[0], problem.X[0], problem.Y[0])
    for name in "WAB":
        expected = getattr(weights, name)[0] - (0.01 * full[name] if name in train_what else 0)
        torch.testing.assert_close(getattr(after, name)[0], expected, rtol=1e-12, atol=1e-14)


def test_sgd_step_follows_one_uniformly_drawn_sequence():
    problem, weights = small_setup(n=4)
    optimizer = StochasticGradientDescent()
    params = optimizer.parse_params({"steps": 1, "lr": 0.05})
    candidates = sequence_gradients(weights, problem)
    state = optimizer.start(params, problem, seeds=[123])
    chosen = Counter()
    for _ in range(400):
        after = optimizer.step(params, state, weights, problem, torch.tensor([0.05]), Elman())
        matches = [i for i, g in enumerate(candidates)
                   if torch.allclose(after.W[0], weights.W[0] - 0.05 * g["W"], rtol=1e-12, atol=1e-14)]
        assert len(matches) == 1
        chosen[matches[0]] += 1
    # uniform over 4 sequences: each count is Binomial(400, 1/4), mean 100, sd 8.7
    assert set(chosen) == set(range(4)) and all(60 <= c <= 140 for c in chosen.values())


def test_minibatch_step_is_the_mean_over_b_distinct_sequences():
    problem, weights = small_setup(n=5)
    optimizer = MinibatchSGD()
    params = optimizer.parse_params({"steps": 1, "lr": 0.05, "batch_size": 2})
    candidates = sequence_gradients(weights, problem)
    subsets = list(itertools.combinations(range(5), 2))
    state = optimizer.start(params, problem, seeds=[7])
    seen = set()
    for _ in range(60):
        after = optimizer.step(params, state, weights, problem, torch.tensor([0.05]), Elman())
        matches = [s for s in subsets
                   if torch.allclose(after.W[0], weights.W[0] - 0.05 * (candidates[s[0]]["W"] + candidates[s[1]]["W"]) / 2,
                                     rtol=1e-12, atol=1e-14)]
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) >= 6  # 10 subsets, 60 draws: many distinct ones


def test_batch_larger_than_n_is_refused():
    problem, weights = small_setup(n=3)
    optimizer = MinibatchSGD()
    with pytest.raises(ValueError, match="batch_size"):
        optimizer.start(optimizer.parse_params({"steps": 1, "lr": 0.1, "batch_size": 4}), problem, [0])


def test_gd_on_the_paper_setup_fits_to_one_percent(paper_problem):
    """Theorem 1 at m = 256 (n=8, L=8, d_x=8, d=4, δ=0.3): f falls below 1e-2·f(W0), monotonically."""
    weights = make_weights(256, 8, 4, seed=1)
    optimizer = GradientDescent()
    params = optimizer.parse_params({"steps": 500, "lr": 0.05 / 256})
    lr = torch.tensor([params.lr])
    run = train(optimizer, params, weights, paper_problem, lr, [0], log_schedule(500, 30), Elman())
    f = run.loss[:, 0]
    assert not run.diverged.any()
    assert f[-1] < 1e-2 * f[0]
    assert torch.all(f[1:] <= f[:-1])


@pytest.mark.parametrize("optimizer", [GradientDescent(), StochasticGradientDescent(), MinibatchSGD()])
def test_an_ensemble_trains_exactly_as_its_members_alone(optimizer):
    problems = [make_problem(s, n=8, L=5, d_x=4, d=3, delta=0.2) for s in range(3)]
    members = [make_weights(24, 4, 3, seed=10 + s) for s in range(3)]
    lrs = [0.002, 0.004, 0.008]
    seeds = [101, 102, 103]
    params = optimizer.parse_params({"steps": 25, "lr": 1.0, "train": "WAB"} | (
        {"batch_size": 3} if optimizer.name == "minibatch" else {}))
    schedule = log_schedule(25, 6)
    together = train(optimizer, params, type(members[0]).stack(members), Problem.stack(problems),
                     torch.tensor(lrs), seeds, schedule, Elman())
    for k in range(3):
        alone = train(optimizer, params, members[k], problems[k], torch.tensor([lrs[k]]), [seeds[k]], schedule, Elman())
        assert torch.equal(together.loss[:, k], alone.loss[:, 0])
        for name in "WAB":
            assert torch.equal(getattr(together.weights, name)[k], getattr(alone.weights, name)[0])


def test_a_diverging_member_is_masked_and_the_others_go_on():
    """n and m multiples of 8: the shapes framework.planning.tasks packs (exact members)."""
    problem = Problem.stack([make_problem(0, n=8, L=6, d_x=4, d=3, delta=0.2)] * 2)
    weights = type(make_weights(32, 4, 3)).stack([make_weights(32, 4, 3, seed=s) for s in (1, 2)])
    optimizer = GradientDescent()
    params = optimizer.parse_params({"steps": 60, "lr": 1.0, "train": "WAB"})
    schedule = log_schedule(60, 10)
    run = train(optimizer, params, weights, problem, torch.tensor([0.001, 2.0]), [0, 1], schedule, Elman())
    assert run.diverged.tolist() == [False, True]
    assert run.diverged_at[1] > 0
    alone = train(optimizer, params, weights.member(0), problem.member(0), torch.tensor([0.001]), [0], schedule, Elman())
    assert torch.equal(run.loss[:, 0], alone.loss[:, 0])


def test_log_schedule_starts_at_zero_ends_at_the_last_step_and_is_logarithmic():
    schedule = log_schedule(10_000, 40)
    assert schedule[0] == 0 and schedule[-1] == 10_000
    assert schedule == sorted(set(schedule))
    ratios = [b / a for a, b in zip(schedule[15:], schedule[16:])]
    assert max(ratios) / min(ratios) < 1.2  # equal spacing in log t, up to rounding
    assert log_schedule(0, 10) == [0]


@pytest.mark.parametrize("default", [torch.float32, torch.float64])
def test_sgd_samples_the_same_sequences_whatever_the_default_dtype(default):
    """Which sequences SGD draws depends on its seeds only: not on the process's default dtype,
    which other code (a test module, a user's script) may have changed. A brute-force reference:
    the samples drawn in a process left at float32."""
    from plugins.optimizers import SequenceSampler

    previous = torch.get_default_dtype()
    try:
        torch.set_default_dtype(torch.float32)
        sampler = SequenceSampler([3, 4], 8, 2, torch.device("cpu"))
        reference = [sampler.next() for _ in range(5)]
        torch.set_default_dtype(default)
        sampler = SequenceSampler([3, 4], 8, 2, torch.device("cpu"))
        drawn = [sampler.next() for _ in range(5)]
    finally:
        torch.set_default_dtype(previous)
    assert all(torch.equal(a, b) for a, b in zip(reference, drawn))
