"""The cost of a model written with its forward pass alone: one gradient by autograd (the
``framework.Network`` default) against the Elman network's closed form (Fact 2.5), same weights.

The autograd model is the Elman network of §2.1 as a third party would write it (a layer loop
with ``torch.relu``); both gradients are compared before timing.

    python benchmarks/autograd_fallback.py [--repeats 15] [--dtype float32]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from framework import Elman, Forward, Network, Problem, Weights, elman_weights

SHAPES = [(256, 32, 16), (1024, 32, 16)]  # (m, n, L)
D_X, D = 8, 4


class PlainElman(Network):
    """§2.1 written plainly; everything but the forward pass from autograd."""

    def forward(self, weights: Weights, problem: Problem) -> Forward:
        h = problem.X.new_zeros(problem.K, problem.rows, weights.m)
        gs, hs = [], []
        for layer in range(problem.L):
            g = h @ weights.W.mT + problem.X[:, :, layer] @ weights.A.mT
            h = torch.relu(g)
            gs.append(g)
            hs.append(h)
        h_layers = torch.stack(hs)
        residual = torch.einsum("lknm,kdm->klnd", h_layers, weights.B) - problem.Y.transpose(1, 2)
        keep = (torch.arange(problem.L) > 0).to(residual.dtype).view(1, -1, 1, 1)
        return Forward(torch.stack(gs), h_layers, residual * keep)


def median_ms(step, repeats: int) -> float:
    for _ in range(3):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = parser.parse_args()
    dtype = getattr(torch, args.dtype)
    print(f"torch={torch.__version__} threads={torch.get_num_threads()} {args.dtype}, gradient of W")
    print(f"{'m':>6} {'n':>4} {'L':>4} {'rel diff':>10} {'closed ms':>10} {'autograd ms':>12} {'ratio':>6}")
    for m, n, L in SHAPES:
        g = torch.Generator().manual_seed(0)
        weights = elman_weights(torch.randn(1, m, m, generator=g) * (2 / m) ** 0.5,
                                torch.randn(1, m, D_X, generator=g) * (2 / m) ** 0.5,
                                torch.randn(1, D, m, generator=g) / D**0.5).to(dtype=dtype)
        X = torch.randn(1, n, L, D_X, generator=g)
        problem = Problem((X / X.norm(dim=-1, keepdim=True)).to(dtype), torch.randn(1, n, L, D, generator=g).to(dtype),
                          torch.ones(1, dtype=torch.float64))
        closed, plain = Elman(), PlainElman()
        exact = closed.gradient(weights, problem, ("W",))["W"]
        fallback = plain.gradient(weights, problem, ("W",))["W"]
        difference = float((exact - fallback).norm() / exact.norm())
        closed_ms = median_ms(lambda: closed.gradient(weights, problem, ("W",)), args.repeats)
        autograd_ms = median_ms(lambda: plain.gradient(weights, problem, ("W",)), args.repeats)
        print(f"{m:>6} {n:>4} {L:>4} {difference:>10.2e} {closed_ms:>10.2f} {autograd_ms:>12.2f} "
              f"{autograd_ms / closed_ms:>6.2f}")


if __name__ == "__main__":
    main()
