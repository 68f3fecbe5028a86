"""Training steps replayed as a CUDA graph (framework.execution.captured_step).

What a CPU can check: which rules are captured, and the property capture relies on (a
capturable rule's step is a pure function: the warm-up steps run before capture must leave the
weights as they were). The replay itself needs a GPU and is compared with eager training there.
"""
from __future__ import annotations

import pytest
import torch

from conftest import make_problem, make_weights
from overparam.engine import Elman, log_schedule, train
from framework.execution.captured_step import capture_possible
from plugins.linearized import LinearizedGradientDescent
from plugins.optimizers import GradientDescent, MinibatchSGD, StochasticGradientDescent

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def setup(device: str = "cpu"):
    problem = make_problem(3, n=8, L=5, d_x=4, d=2, delta=0.2).to(device)
    weights = make_weights(32, 4, 2, seed=3).to(device)
    return problem, weights


@pytest.mark.parametrize("optimizer", [GradientDescent(), LinearizedGradientDescent()])
def test_a_capturable_step_leaves_the_weights_and_rates_it_reads_unchanged(optimizer):
    problem, weights = setup()
    params = optimizer.parse_params({"steps": 1, "lr": 0.01, "train": "WAB"})
    network = optimizer.network_for(params, Elman(), weights, problem)
    before, lr = weights.map(torch.clone), torch.tensor([0.01])
    after = optimizer.step(params, optimizer.start(params, problem, [0]), weights, problem, lr, network)
    for name in weights.names:
        assert torch.equal(weights[name], before[name])
        assert not torch.equal(after[name], before[name])
    assert torch.equal(lr, torch.tensor([0.01]))


def test_only_rules_without_host_state_are_captured_and_only_on_a_gpu():
    _, weights = setup()
    assert GradientDescent.capturable and LinearizedGradientDescent.capturable
    assert not StochasticGradientDescent.capturable and not MinibatchSGD.capturable  # the sampler's position
    assert not capture_possible(GradientDescent(), weights)  # a CPU never captures


@CUDA
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_replayed_training_equals_eager_training_on_a_gpu(dtype):
    problem, weights = setup("cuda")
    problem, weights = problem.to(dtype=dtype), weights.to(dtype=dtype)
    optimizer = GradientDescent()
    params = optimizer.parse_params({"steps": 40, "lr": 0.01})
    lr = torch.tensor([0.01], device="cuda", dtype=dtype)
    schedule = log_schedule(40, 6)
    logged = {}

    def on_log(step, w, f, diverged):
        logged[step] = w.W.clone()

    replayed = train(optimizer, params, weights, problem, lr, [0], schedule, Elman(), on_log=on_log)
    eager = train(optimizer, params, weights, problem, lr, [0], schedule, Elman(), capture=False)
    tolerance = 1e-12 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(replayed.loss, eager.loss, rtol=tolerance, atol=0)
    torch.testing.assert_close(replayed.weights.W, eager.weights.W, rtol=tolerance, atol=tolerance)
    assert sorted(logged) == sorted(set(schedule)) and not torch.equal(logged[0], logged[40])
    torch.testing.assert_close(logged[40], replayed.weights.W, rtol=0, atol=0)


@CUDA
def test_a_member_diverging_inside_the_graph_is_frozen_while_the_other_trains():
    problem, weights = setup("cuda")
    ensemble = type(weights).stack([weights, weights])
    problems = type(problem).stack([problem, problem])
    optimizer = GradientDescent()
    params = optimizer.parse_params({"steps": 30, "lr": 1.0})
    lr = torch.tensor([1e3, 0.01], device="cuda")
    trajectory = train(optimizer, params, ensemble, problems, lr, [0, 1], log_schedule(30, 8), Elman())
    assert trajectory.diverged.tolist() == [True, False]
    assert torch.isfinite(trajectory.loss[:, 1]).all()
    assert trajectory.loss[-1, 1] < trajectory.loss[0, 1]
