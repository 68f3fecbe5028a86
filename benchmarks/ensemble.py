"""Ensembles against one network at a time: config-steps per second of the same engine.

For each width m and ensemble size K, K grid points (different seeds and learning rates) take
GD steps either as one ensemble (one batched step) or one after the other (K steps of K = 1),
in this process, alternating the two; the medians give config-steps per second (K / time of
one step of all K) and their ratio. Small networks leave a GPU mostly idle one at a time; the
ensemble axis is how overparam fills it (docs/architecture.md, "Ensembles"). Where the batched
step loses (wide networks on a CPU), a task runs its members one after another instead
(framework/execution/ensemble_choice.py, measured once per kind of task): the last columns are
the path the task chooses here and its rate against one by one.

    python benchmarks/ensemble.py [--device cuda] [--repeats 5] [--m 256 1024] [--K 1 4 16 64]
"""
from __future__ import annotations

import argparse
import statistics

import torch

from overparam import Problem, Weights
from overparam.engine import Elman, elman_weights, resolve_device
from framework.execution.ensemble_choice import members_per_run, timed_call as timed
from plugins.optimizers import GradientDescent

ELMAN = Elman()

N, L, D_X, D = 32, 16, 8, 4


def members(m: int, K: int, device: torch.device, dtype: torch.dtype) -> tuple[Weights, Problem, torch.Tensor]:
    """K networks of width m at paper scale, their data, and K different learning rates."""
    g = torch.Generator().manual_seed(m + K)
    weights = elman_weights(torch.randn(K, m, m, generator=g) * (2 / m) ** 0.5,
                      torch.randn(K, m, D_X, generator=g) * (2 / m) ** 0.5,
                      torch.randn(K, D, m, generator=g) / D**0.5)
    X = torch.randn(K, N, L, D_X, generator=g)
    problem = Problem(X / X.norm(dim=-1, keepdim=True), torch.randn(K, N, L, D, generator=g) / D**0.5,
                      torch.ones(K, dtype=torch.float64))
    lr = torch.linspace(0.01, 0.05, K) / m
    return weights.to(device, dtype), problem.to(device, dtype), lr.to(device, dtype)


def part_step(optimizer: GradientDescent, params, weights: Weights, problem: Problem, lr: torch.Tensor, size: int,
              start: int = 0):
    """One GD step of members ``start`` to ``start + size`` of the ensemble, as a task steps a part."""
    w, p = weights.members(start, start + size).map(torch.clone), problem.members(start, start + size)
    return lambda: optimizer.step(params, None, w, p, lr[start:start + size], ELMAN)


def compare(m: int, K: int, device: torch.device, repeats: int, steps: int) -> dict[str, float]:
    weights, problem, lr = members(m, K, device, torch.float32)
    optimizer = GradientDescent()
    params = optimizer.parse_params({"steps": 1, "lr": 1.0})
    singles = [(weights.member(k), problem.member(k), lr[k : k + 1]) for k in range(K)]
    state = {"ensemble": weights, "singles": [w for w, _, _ in singles]}

    def ensemble() -> None:
        for _ in range(steps):
            state["ensemble"] = optimizer.step(params, None, state["ensemble"], problem, lr, ELMAN)

    def one_by_one() -> None:
        for _ in range(steps):
            state["singles"] = [optimizer.step(params, None, w, p, r, ELMAN)
                                for w, (_, p, r) in zip(state["singles"], singles)]

    ensemble()
    one_by_one()
    together, alone = [], []
    for _ in range(repeats):
        together.append(timed(ensemble, device))
        alone.append(timed(one_by_one, device))
    t_together, t_alone = statistics.median(together), statistics.median(alone)
    size = members_per_run(("benchmark", m, K), K, lambda size: part_step(optimizer, params, weights, problem, lr, size),
                           device)
    parts = [part_step(optimizer, params, weights, problem, lr, size, start) for start in range(0, K, size)]

    def chosen() -> None:
        for _ in range(steps):
            for part in parts:
                part()

    chosen()
    t_task = statistics.median(timed(chosen, device) for _ in range(repeats))
    return {"ensemble": K * steps / t_together, "one_by_one": K * steps / t_alone, "ratio": t_alone / t_together,
            "path": f"{size} at a time", "task_ratio": t_alone / t_task}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3, help="steps per timed call")
    parser.add_argument("--m", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--K", type=int, nargs="+", default=[1, 4, 16, 64])
    args = parser.parse_args()
    device = resolve_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    print(f"device: {name}; torch {torch.__version__}; float32, GD on W, n={N}, L={L}; medians of {args.repeats}")
    print(f"{'m':>6} {'K':>4} {'ensemble cfg-steps/s':>21} {'one-by-one cfg-steps/s':>23} {'ratio':>7} "
          f"{'task runs them':>15} {'task ratio':>11}")
    for m in args.m:
        for K in args.K:
            row = compare(m, K, device, args.repeats, args.steps)
            print(f"{m:>6} {K:>4} {row['ensemble']:>21.1f} {row['one_by_one']:>23.1f} {row['ratio']:>7.2f} "
                  f"{row['path']:>15} {row['task_ratio']:>11.2f}", flush=True)


if __name__ == "__main__":
    main()
