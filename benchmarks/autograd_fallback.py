"""The cost of a model written with its forward pass alone: one gradient by autograd (the
``overparam.Network`` default) against the closed form of the same network, same weights: the
Elman network (Fact 2.5) and the companion paper's deep feed-forward network (depth 3).

The autograd models are the networks as a third party would write them (a layer loop with
``torch.relu``); both gradients are compared before timing.

    python benchmarks/autograd_fallback.py [--repeats 15] [--dtype float32]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from overparam import Forward, Network, Problem, Weights
from overparam.engine import Elman
from plugins.feedforward import Feedforward, FeedforwardParams
from plugins.initializers import PaperInitialization

SHAPES = [(256, 32, 16), (1024, 32, 16)]  # (m, n, L); the feed-forward network reads x_{i,1} alone
D_X, D, DEPTH = 8, 4, 3


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


class PlainFeedforward(Network):
    """The feed-forward network written plainly: h_0 = relu(A x), h_l = relu(W_l h_{l-1}), y = B h_depth."""

    def forward(self, weights: Weights, problem: Problem) -> Forward:
        g = problem.X[:, :, 0] @ weights.A.mT
        gs, hs = [g], [torch.relu(g)]
        for layer in range(weights.W.shape[1]):
            g = hs[-1] @ weights.W[:, layer].mT
            gs.append(g)
            hs.append(torch.relu(g))
        residual = hs[-1] @ weights.B.mT - problem.Y[:, :, -1]
        return Forward(torch.stack(gs), torch.stack(hs), residual.unsqueeze(1))


MODELS = {"elman": (Elman(), PlainElman()),
          "feedforward": (Feedforward(FeedforwardParams(depth=DEPTH)), PlainFeedforward())}


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
    print(f"{'model':>12} {'m':>6} {'n':>4} {'L':>4} {'rel diff':>10} {'closed ms':>10} {'autograd ms':>12} "
          f"{'ratio':>6}")
    paper = PaperInitialization()
    for name, (closed, plain) in MODELS.items():
        for m, n, L in SHAPES:
            g = torch.Generator().manual_seed(0)
            weights = paper.initialize(paper.parse_params({"m": m}), closed.weight_layout(m, D_X, D), 0).to(dtype=dtype)
            X = torch.randn(1, n, L, D_X, generator=g)
            problem = Problem((X / X.norm(dim=-1, keepdim=True)).to(dtype),
                              torch.randn(1, n, L, D, generator=g).to(dtype), torch.ones(1, dtype=torch.float64))
            exact = closed.gradient(weights, problem, ("W",))["W"]
            fallback = plain.gradient(weights, problem, ("W",))["W"]
            difference = float((exact - fallback).norm() / exact.norm())
            closed_ms = median_ms(lambda: closed.gradient(weights, problem, ("W",)), args.repeats)
            autograd_ms = median_ms(lambda: plain.gradient(weights, problem, ("W",)), args.repeats)
            print(f"{name:>12} {m:>6} {n:>4} {L:>4} {difference:>10.2e} {closed_ms:>10.2f} {autograd_ms:>12.2f} "
                  f"{autograd_ms / closed_ms:>6.2f}")


if __name__ == "__main__":
    main()
