"""The paper initialization (Definition 2.3) has the stated law and is reproducible."""
from __future__ import annotations

import math

import pytest
import torch

from conftest import make_weights


def assert_gaussian(sample: torch.Tensor, variance: float) -> None:
    """Mean 0 and the given variance, within 5 standard errors of their estimators."""
    N = sample.numel()
    assert abs(sample.mean().item()) < 5 * math.sqrt(variance / N)
    assert abs(sample.var().item() - variance) < 5 * variance * math.sqrt(2 / (N - 1))
    # fourth moment of a Gaussian is 3σ⁴: rules out, say, a uniform law with the right variance
    kurtosis = (sample - sample.mean()).pow(4).mean().item() / sample.var().item() ** 2
    assert abs(kurtosis - 3) < 5 * math.sqrt(96 / N)


@pytest.mark.parametrize("m,d_x,d", [(512, 8, 4), (1024, 3, 10)])
def test_paper_initialization_has_the_variances_of_definition_2_3(m, d_x, d):
    weights = make_weights(m, d_x, d, seed=5)
    assert weights.W.shape == (1, m, m) and weights.A.shape == (1, m, d_x) and weights.B.shape == (1, d, m)
    assert weights.W.dtype == torch.float64
    assert_gaussian(weights.W, 2 / m)
    assert_gaussian(weights.A, 2 / m)
    assert_gaussian(weights.B, 1 / d)


def test_entries_are_uncorrelated():
    W = make_weights(400, 4, 2, seed=1).W[0]
    neighbours = torch.corrcoef(torch.stack([W[:, :-1].flatten(), W[:, 1:].flatten()]))[0, 1].item()
    assert abs(neighbours) < 5 / math.sqrt(W[:, 1:].numel())


def test_one_seed_gives_one_network_and_seeds_differ():
    a, b, c = make_weights(64, 5, 3, seed=2), make_weights(64, 5, 3, seed=2), make_weights(64, 5, 3, seed=3)
    assert all(torch.equal(getattr(a, k), getattr(b, k)) for k in "WAB")
    assert not any(torch.equal(getattr(a, k), getattr(c, k)) for k in "WAB")


def test_float32_weights_are_the_float64_weights_rounded():
    weights = make_weights(32, 4, 2, seed=9)
    single = weights.to(dtype=torch.float32)
    assert torch.equal(single.W, weights.W.float())


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_one_seed_gives_the_same_weights_on_cuda_and_cpu():
    weights = make_weights(128, 8, 4, seed=4)
    on_gpu = weights.to("cuda")
    assert all(torch.equal(getattr(on_gpu, k).cpu(), getattr(weights, k)) for k in "WAB")
