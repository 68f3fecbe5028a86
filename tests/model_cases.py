"""What the tests of the built-in models share: K networks of one model drawn by the paper's
initializer (each member its own seed) on random unit-norm sequences, and the float64
tolerance a closed form must meet against autograd."""
from __future__ import annotations

import torch

from framework import Network, Problem, Weights
from plugins.initializers import PaperInitialization


def paper_ensemble(network: Network, K: int, n: int, L: int, m: int, d_x: int, d: int,
                   seed: int) -> tuple[Weights, Problem]:
    """K members of ``network``'s weights (``paper``, seeds seed..seed+K-1) and K random problems."""
    g = torch.Generator().manual_seed(seed)
    layout = network.layout(m, d_x, d)
    paper = PaperInitialization()
    weights = Weights.stack([paper.initialize(paper.parse_params({"m": m}), layout, seed + k) for k in range(K)])
    X = torch.randn(K, n, L, d_x, generator=g, dtype=torch.float64)
    Y = torch.randn(K, n, L, d, generator=g, dtype=torch.float64)
    return weights, Problem(X / X.norm(dim=-1, keepdim=True), Y, torch.ones(K, dtype=torch.float64))


def close(a: torch.Tensor, b: torch.Tensor) -> None:
    """Equal to float64 round-off of the products involved."""
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
