"""The `separable` generator keeps §2.1 and Assumption 2.1 exactly, or says why it cannot."""
from __future__ import annotations

import itertools
import math

import pytest
import torch
from pydantic import ValidationError

from conftest import make_problem
from plugins.separable import Separable


@pytest.mark.parametrize(
    "params",
    [
        dict(n=8, L=8, d_x=8, d=4, delta=0.3),
        dict(n=40, L=3, d_x=5, d=2, delta=0.2),
        dict(n=1, L=1, d_x=2, d=1, delta=1.0),
        dict(n=2, L=5, d_x=2, d=3, delta=1.0),
        dict(n=4, L=4, d_x=4, d=2, delta=0.9, input_norm_min=0.5, input_norm_max=1.0),
    ],
)
def test_inputs_keep_section_2_1_and_separation_holds_exactly(params):
    problem = make_problem(3, **params)
    X = problem.X[0]
    n, L = params["n"], params["L"]
    assert X.shape == (n, L, params["d_x"]) and problem.Y.shape == (1, n, L, params["d"])
    for i in range(n):
        assert abs(X[i, 0].norm().item() - 1.0) <= 1e-15
        assert X[i, 0, -1].item() == 1 / math.sqrt(2)
        for layer in range(1, L):
            norm = X[i, layer].norm().item()
            assert params.get("input_norm_min", 1.0) - 1e-15 <= norm <= params.get("input_norm_max", 1.0) + 1e-15
    pair_distances = [(X[i, 0] - X[j, 0]).norm().item() for i, j in itertools.combinations(range(n), 2)]
    measured = problem.delta.item()
    if n == 1:
        assert measured == math.inf
    else:
        assert min(pair_distances) >= params["delta"]
        assert measured == pytest.approx(min(pair_distances), rel=1e-12)


@pytest.mark.parametrize("delta", [0.02, 0.1, 0.5, 0.8])
def test_tight_data_are_separated_by_exactly_delta(delta):
    """With ``tight``, the closest pair of first inputs is δ apart to round-off (a brute-force loop
    over pairs), every other pair at least δ, and §2.1's norms still hold."""
    problem = make_problem(5, n=8, L=3, d_x=8, d=2, delta=delta, tight=True)
    first = problem.X[0, :, 0]
    distances = {(i, j): (first[i] - first[j]).norm().item() for i, j in itertools.combinations(range(8), 2)}
    assert distances[(0, 1)] == pytest.approx(delta, abs=1e-12)
    assert min(distances.values()) >= delta - 1e-12
    assert problem.delta.item() == pytest.approx(delta, abs=1e-12)
    assert torch.allclose(first.norm(dim=1), torch.ones(8, dtype=torch.float64), atol=1e-15)
    assert torch.all(first[:, -1] == 1 / math.sqrt(2))


def test_a_shared_tail_leaves_only_the_first_inputs_to_tell_sequences_apart():
    problem = make_problem(2, n=6, L=5, d_x=8, d=2, delta=0.1, tight=True, shared_tail=True)
    X = problem.X[0]
    for i in range(1, 6):
        assert torch.equal(X[i, 1:], X[0, 1:])
    assert (X[0, 0] - X[1, 0]).norm().item() == pytest.approx(0.1, abs=1e-12)
    assert torch.allclose(X[:, 1:].norm(dim=-1), torch.ones(6, 4, dtype=torch.float64), atol=1e-15)


def test_tight_leaves_the_default_data_unchanged():
    loose = make_problem(5, n=8, L=3, d_x=8, d=2, delta=0.3)
    again = make_problem(5, n=8, L=3, d_x=8, d=2, delta=0.3, tight=False)
    assert torch.equal(loose.X, again.X) and torch.equal(loose.Y, again.Y)


def test_same_seed_same_data_and_other_seed_other_data():
    a, b, c = (make_problem(s, n=5, L=4, d_x=6, d=2, delta=0.2) for s in (7, 7, 8))
    assert torch.equal(a.X, b.X) and torch.equal(a.Y, b.Y)
    assert not torch.equal(a.X, c.X) and not torch.equal(a.Y, c.Y)


def test_targets_are_random_with_the_requested_scale():
    problem = make_problem(0, n=400, L=10, d_x=6, d=4, delta=0.05, target_scale=2.0)
    Y = problem.Y.flatten()
    variance = 2.0**2 / 4
    standard_error = variance * math.sqrt(2 / Y.numel())
    assert abs(Y.var().item() - variance) < 5 * standard_error
    assert abs(Y.mean().item()) < 5 * math.sqrt(variance / Y.numel())


def test_targets_do_not_depend_on_the_input_distribution():
    """Random labels ("fit random labels"): across sequences, inputs and targets are uncorrelated."""
    problem = make_problem(1, n=2000, L=2, d_x=3, d=1, delta=0.001)
    x = problem.X[0, :, 1, 0]
    y = problem.Y[0, :, 1, 0]
    correlation = torch.corrcoef(torch.stack([x, y]))[0, 1].item()
    assert abs(correlation) < 5 / math.sqrt(2000)


@pytest.mark.parametrize(
    "params,reason",
    [
        (dict(n=3, d_x=2, delta=0.5), "at most 2"),
        (dict(n=7, d_x=4, delta=1.0), "at most 6"),
        (dict(n=50, d_x=3, delta=0.9), "closest pair"),
    ],
)
def test_impossible_separation_is_refused_with_the_reason(params, reason):
    generator = Separable()
    with pytest.raises(ValueError, match=reason):
        generator.generate(generator.parse_params(dict(L=2, d=1, **params)), seed=0)


@pytest.mark.parametrize(
    "params,key",
    [
        (dict(n=0), "n"),
        (dict(L=-1), "L"),
        (dict(d_x=1), "d_x"),
        (dict(d=0), "d"),
        (dict(delta=0.0), "delta"),
        (dict(delta=1.5), "delta"),
        (dict(input_norm_max=1.2), "input_norm_max"),
        (dict(input_norm_min=0.9, input_norm_max=0.5), "input_norm_min"),
        (dict(colour="red"), "colour"),
    ],
)
def test_non_positive_sizes_and_bad_parameters_are_refused_naming_the_key(params, key):
    with pytest.raises(ValidationError, match=key):
        Separable.parse_params(params)
