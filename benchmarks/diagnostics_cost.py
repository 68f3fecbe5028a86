"""The cost of the paper's diagnostics relative to one training step, at m = 1024, n = 32, L = 16 by default.

One training step is what the ``gd`` optimizer does: a forward pass, the closed-form gradient
of Fact 2.5 and the update. Each diagnostic is timed on a fresh ``Probe`` (so its time includes
the shared quantities it needs: forward passes, gradient, bases); then the cheap set (loss,
pl_ratio, weight_distance, dprime_sparsity, perturbation_norms) and the full pass (all
diagnostics on one probe, shared work done once) are timed the same way. The state measured is
the network after a few GD steps from the paper's initialization, so W ≠ W0 and signs have
flipped. float64 (the pipeline default), on the CPU unless ``--device`` says otherwise; medians
over ``--repeats`` (the expensive chain_norms, the tangent kernel's and the full pass once each).
The tangent kernel's diagnostics cost about N products with K (N = (L-1)·n·d rows): at the default
size N = 1920, so ``--m/--n/--L/--d`` measure them at a scan's size (pipelines/kernel.yaml:
``--n 6 --L 5 --d 2``).

    python benchmarks/diagnostics_cost.py [--device cuda] [--repeats 5] [--dtype float32] [--n 6 --L 5 --d 2]
"""
from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence

import torch

from overparam import Diagnostic, Params, Probe, Problem, Weights
from overparam.engine import Elman, resolve_device, resolve_dtype
from plugins.diagnostics import DIAGNOSTICS
from plugins.initializers import PaperInitialization
from plugins.optimizers import GradientDescent
from plugins.separable import Separable

ELMAN = Elman()

M, N, L, D_X, D = 1024, 32, 16, 8, 4
WARM_STEPS = 5
LR_CONSTANT = 0.002  # lr = 0.002/m, below the GD stability edge at n = 32, L = 16 (it scales as 1/(n L³))
CHEAP = ("loss", "pl_ratio", "weight_distance", "dprime_sparsity", "perturbation_norms")
ONCE = ("chain_norms", "kernel_spectrum", "kernel_drift", "kernel_deviation")
CHEAP_BUDGET_STEPS = 3.0


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(run: Callable[[], object], repeats: int, device: torch.device) -> float:
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        run()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def setup(device: torch.device, dtype: torch.dtype, m: int, n: int, L: int, d: int,
          lr: float) -> tuple[Weights, Problem, GradientDescent, Params]:
    generator, initializer = Separable(), PaperInitialization()
    problem = generator.generate(generator.parse_params({"n": n, "L": L, "d_x": D_X, "d": d, "delta": 0.1}), 0)
    initial = initializer.initialize(initializer.parse_params({"m": m}), ELMAN.weight_layout(m, D_X, d), 0)
    problem, initial = problem.to(device, dtype), initial.to(device, dtype)
    optimizer = GradientDescent()
    params = optimizer.parse_params({"steps": WARM_STEPS, "lr": lr})
    return initial, problem, optimizer, params


def run_diagnostics(diagnostics: Sequence[type[Diagnostic]], probe: Probe) -> None:
    for diagnostic_class in diagnostics:
        diagnostic = diagnostic_class()
        diagnostic.measure(diagnostic.parse_params({}), probe)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float64")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--m", type=int, default=M)
    parser.add_argument("--n", type=int, default=N)
    parser.add_argument("--L", type=int, default=L)
    parser.add_argument("--d", type=int, default=D)
    args = parser.parse_args()
    device, dtype = resolve_device(args.device), resolve_dtype(args.dtype)

    rate = LR_CONSTANT / args.m
    initial, problem, optimizer, params = setup(device, dtype, args.m, args.n, args.L, args.d, rate)
    weights = initial
    lr = torch.full((1,), rate, dtype=dtype, device=device)
    history_steps, history = [], []
    for t in range(WARM_STEPS + 1):
        history_steps.append(t)
        history.append(ELMAN.loss(weights, problem))
        if t < WARM_STEPS:
            weights = optimizer.step(params, None, weights, problem, lr, ELMAN)
    history_loss = torch.stack(history)

    def probe() -> Probe:
        return Probe(weights, initial, problem, network=ELMAN, step=WARM_STEPS, history_steps=history_steps, learning_rate=lr,
                     history_loss=history_loss, seed=0)

    step = median_seconds(lambda: optimizer.step(params, None, weights, problem, lr, ELMAN), args.repeats, device)
    rows: list[tuple[str, float, int]] = []
    for diagnostic_class in DIAGNOSTICS:
        repeats = 1 if diagnostic_class.name in ONCE else args.repeats
        seconds = median_seconds(lambda: run_diagnostics([diagnostic_class], probe()), repeats, device)
        rows.append((diagnostic_class.name, seconds, repeats))
    cheap = [d for d in DIAGNOSTICS if d.name in CHEAP]
    cheap_seconds = median_seconds(lambda: run_diagnostics(cheap, probe()), args.repeats, device)
    rows.append(("cheap set, one probe", cheap_seconds, args.repeats))
    full_seconds = median_seconds(lambda: run_diagnostics(DIAGNOSTICS, probe()), 1, device)
    rows.append(("all, one probe", full_seconds, 1))

    threads = torch.get_num_threads() if device.type == "cpu" else "-"
    print(f"m={args.m} n={args.n} L={args.L} d_x={D_X} d={args.d} {str(dtype).removeprefix('torch.')} on {device} "
          f"(threads {threads}); state after {WARM_STEPS} GD steps")
    print(f"training step (forward + closed-form gradient + update): {step * 1e3:.1f} ms (median of {args.repeats})")
    print(f"{'diagnostic':<24}{'seconds':>10}{'x step':>10}{'repeats':>9}")
    for name, seconds, repeats in rows:
        print(f"{name:<24}{seconds:>10.4f}{seconds / step:>10.2f}{repeats:>9}")
    verdict = "within" if cheap_seconds < CHEAP_BUDGET_STEPS * step else "OVER"
    print(f"cheap set: {cheap_seconds / step:.2f} training steps, {verdict} the budget of {CHEAP_BUDGET_STEPS:g}")


if __name__ == "__main__":
    main()
