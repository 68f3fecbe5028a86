"""The built-in generators `token_map` and `digits` and initializers `orthogonal` and `identity`,
checked against independent facts: §2.1's input convention, the rules as stated, scikit-learn's
own images and labels, orthogonality, and the paper's A and B at the same seed."""
from __future__ import annotations

import math
import sys

import pytest
import torch

from overparam import Problem, Weights
from overparam.engine import Elman, FIRST_INPUT_LAST_COORDINATE
from framework.plugin_system.registry import Registry

REGISTRY = Registry(autoload=False)


def generate(name: str, seed: int = 0, **raw) -> Problem:
    component = REGISTRY.get("generator", name)
    return component().generate(component.parse_params(raw), seed)


def initialize(name: str, d_x: int, d: int, seed: int = 0, **raw) -> Weights:
    component = REGISTRY.get("initializer", name)
    params = component.parse_params(raw)
    return component().initialize(params, Elman().weight_layout(params.m, d_x, d), seed)


def assert_input_convention(problem: Problem) -> None:
    """§2.1: ||x_{i,1}|| = 1 with last coordinate 1/sqrt(2), ||x_{i,l}|| <= 1; δ as measured."""
    X = problem.X[0]
    ones = torch.ones(X.shape[0], dtype=torch.float64)
    assert torch.allclose(X[:, 0].norm(dim=-1), ones)
    assert torch.allclose(X[:, 0, -1], FIRST_INPUT_LAST_COORDINATE * ones)
    assert bool((X.norm(dim=-1) <= 1 + 1e-12).all())
    first = X[:, 0]
    pairs = [float((first[i] - first[j]).norm()) for i in range(len(first)) for j in range(i)]
    assert math.isclose(float(problem.delta[0]), min(pairs), abs_tol=1e-12)


def decode_tokens(problem: Problem) -> torch.Tensor:
    """The token of each position: the embedding puts 1/sqrt(2) on that token's coordinate."""
    return problem.X[0, :, :, :-1].argmax(dim=-1)


# --- token_map ----------------------------------------------------------------------------

def test_token_map_inputs_keep_the_convention_with_distinct_first_tokens() -> None:
    problem = generate("token_map", seed=3, n=6, L=5, vocab=7, outputs=3)
    assert problem.X.shape == (1, 6, 5, 8) and problem.Y.shape == (1, 6, 5, 3)
    assert_input_convention(problem)
    assert float(problem.delta[0]) == pytest.approx(1.0)  # distinct one-hot halves: distance exactly 1
    assert len(set(decode_tokens(problem)[:, 0].tolist())) == 6


def test_token_map_explicit_rule_maps_token_3_at_p_to_token_7_at_q() -> None:
    rule = {"token": 3, "position": 2, "output": 7, "at": 5}
    problem = generate("token_map", seed=0, n=10, L=6, vocab=10, outputs=8, mapping=[rule], target_scale=2.0)
    tokens = decode_tokens(problem)
    fires = tokens[:, 1] == 3
    expected = torch.zeros(10, 6, 8, dtype=torch.float64)
    expected[fires, 4, 7] = 2.0
    assert torch.equal(problem.Y[0], expected)


def test_token_map_random_rule_is_one_consistent_mapping() -> None:
    for seed in range(5):
        problem = generate("token_map", seed=seed, n=8, L=6, vocab=8, outputs=4, rules=1)
        tokens, Y = decode_tokens(problem), problem.Y[0]
        active = Y.abs().sum(dim=-1) > 0  # [n, L]
        layers = active.any(dim=0).nonzero().flatten().tolist()
        assert len(layers) == 1 and layers[0] >= 1  # one output position q >= 2
        q = layers[0]
        rows = Y[active[:, q], q]
        assert torch.equal(rows, rows[:1].expand_as(rows)) and float(rows.sum(dim=-1)[0]) == 1.0
        fired = active[:, q]
        assert any(  # some (position p <= q, token a) picks out exactly the sequences that fired
            torch.equal(tokens[:, p] == a, fired) for p in range(q + 1) for a in tokens[fired, p].unique().tolist()
        )


def test_token_map_is_determined_by_its_seed() -> None:
    a, b, c = (generate("token_map", seed=s) for s in (4, 4, 5))
    assert torch.equal(a.X, b.X) and torch.equal(a.Y, b.Y)
    assert not torch.equal(a.X, c.X)


# --- digits -------------------------------------------------------------------------------

SKLEARN_MISSING = "scikit-learn is not installed (an optional dependency: pip install 'overparam[digits]')"


def digits_dataset() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's own digits and labels, to check the generator against; the test is skipped
    without scikit-learn, which the digits generator needs and nothing else does."""
    datasets = pytest.importorskip("sklearn.datasets", reason=SKLEARN_MISSING, exc_type=ImportError)
    data = datasets.load_digits()
    return torch.as_tensor(data.images, dtype=torch.float64), torch.as_tensor(data.target)


def decode_images(problem: Problem) -> torch.Tensor:
    """Invert the padding: the first 8 coordinates are row / (16 sqrt(8)) / sqrt(2)."""
    return problem.X[0, :, :, :8] * math.sqrt(2) * 16 * math.sqrt(8)


def find_images(images: torch.Tensor, wanted: torch.Tensor) -> list[int]:
    distances = (images.flatten(1)[None] - wanted.flatten(1)[:, None]).abs().amax(dim=-1)
    return distances.argmin(dim=1).tolist()


def test_digits_sequences_are_dataset_images_with_their_true_labels() -> None:
    images, labels = digits_dataset()
    problem = generate("digits", seed=1, n=20)
    assert problem.X.shape == (1, 20, 8, 10) and problem.Y.shape == (1, 20, 8, 10)
    assert_input_convention(problem)
    assert torch.allclose(problem.X[0].norm(dim=-1), torch.ones(20, 8, dtype=torch.float64))
    decoded = decode_images(problem)
    index = find_images(images, decoded)
    assert len(set(index)) == 20
    assert torch.allclose(decoded, images[index], atol=1e-9)
    assert torch.equal(problem.Y[0, :, -1].argmax(dim=-1), labels[index])
    assert float(problem.Y[0, :, :-1].abs().sum()) == 0.0  # targets: last


def test_digits_random_labels_are_not_the_true_ones_and_targets_can_cover_every_layer() -> None:
    images, labels = digits_dataset()
    problem = generate("digits", seed=2, n=200, labels="random", targets="all", target_scale=3.0)
    index = find_images(images, decode_images(problem))
    given = problem.Y[0, :, -1].argmax(dim=-1)
    agreement = float((given == labels[index]).double().mean())
    assert agreement < 0.3  # chance is 0.1; true labels would give 1
    assert len(given.unique()) == 10
    assert torch.equal(problem.Y[0], problem.Y[0, :, -1:].expand(-1, 8, -1))
    assert torch.allclose(problem.Y[0].norm(dim=-1), torch.full((200, 8), 3.0, dtype=torch.float64))


def test_digits_without_scikit_learn_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"pip install 'overparam\[digits\]'"):
        generate("digits", n=4)


# --- initializers -------------------------------------------------------------------------

def test_orthogonal_w_is_scaled_orthogonal_with_the_papers_a_and_b() -> None:
    weights = initialize("orthogonal", d_x=5, d=3, seed=7, m=40, scale=1.5)
    paper = initialize("paper", d_x=5, d=3, seed=7, m=40)
    W = weights.W[0]
    assert torch.allclose(W @ W.T, 2.25 * torch.eye(40, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(torch.linalg.svdvals(W), torch.full((40,), 1.5, dtype=torch.float64))
    assert torch.equal(weights.A, paper.A) and torch.equal(weights.B, paper.B)
    other = initialize("orthogonal", d_x=5, d=3, seed=8, m=40, scale=1.5)
    assert not torch.equal(weights.W, other.W)


def test_orthogonal_default_scale_keeps_the_hidden_norm_like_the_paper() -> None:
    m = 512
    weights = initialize("orthogonal", d_x=8, d=4, seed=0, m=m)
    assert torch.allclose(torch.linalg.svdvals(weights.W[0]), torch.full((m,), math.sqrt(2), dtype=torch.float64))
    h = torch.relu(torch.randn(m, 64, generator=torch.Generator().manual_seed(1), dtype=torch.float64))
    ratio = torch.relu(weights.W[0] @ h).norm(dim=0) / h.norm(dim=0)
    assert abs(float(ratio.mean()) - 1.0) < 0.1  # ||relu(W h)|| ≈ ||h||


def test_identity_w_is_scale_times_identity_with_the_papers_a_and_b() -> None:
    weights = initialize("identity", d_x=4, d=2, seed=3, m=16, scale=0.9)
    paper = initialize("paper", d_x=4, d=2, seed=3, m=16)
    assert torch.equal(weights.W[0], 0.9 * torch.eye(16, dtype=torch.float64))
    assert torch.equal(weights.A, paper.A) and torch.equal(weights.B, paper.B)
