"""One training step of overparam's engine against the plain PyTorch a researcher would write.

Baseline: ``torch.nn.RNN(relu, bias=False)`` + a linear read-out + the loss of §2.2 + autograd +
``torch.optim.SGD`` on W alone, one network at a time. Engine: the ``gd`` optimizer (forward
pass and the closed-form gradient of Fact 2.5, no autograd graph), in float32 and float64; on a
GPU also the same step replayed as a CUDA graph, as the training loop runs it there. All run in
this process on the same weights and data, alternating; the median times are printed, and the
speedup is the median of the ratios of back-to-back pairs. Before timing, the two gradients are
compared.

    python benchmarks/step_vs_pytorch.py [--device cuda] [--repeats 15] [--dtype float32 float64]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from overparam import Problem, Weights
from overparam.engine import Elman, closed_form_gradient, elman_weights, resolve_device
from framework.execution.captured_step import CapturedStep
from plugins.optimizers import GradientDescent

ELMAN = Elman()

SHAPES = [(256, 32, 16), (1024, 32, 16), (2048, 16, 32)]  # (m, n, L)
D_X, D = 8, 4


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_inputs(m: int, n: int, L: int, device: torch.device, dtype: torch.dtype) -> tuple[Weights, Problem]:
    g = torch.Generator().manual_seed(0)
    weights = elman_weights(
        torch.randn(1, m, m, generator=g) * (2 / m) ** 0.5,
        torch.randn(1, m, D_X, generator=g) * (2 / m) ** 0.5,
        torch.randn(1, D, m, generator=g) / D**0.5,
    )
    X = torch.randn(1, n, L, D_X, generator=g)
    X = X / X.norm(dim=-1, keepdim=True)
    problem = Problem(X, torch.randn(1, n, L, D, generator=g) / D**0.5, torch.ones(1, dtype=torch.float64))
    return weights.to(device, dtype), problem.to(device, dtype)


class PlainPyTorch:
    """nn.RNN + read-out + autograd + SGD on W, as a researcher would write it."""

    def __init__(self, weights: Weights, problem: Problem, lr: float):
        m, d_x, d = weights.m, weights.size("d_x"), weights.d
        self.rnn = torch.nn.RNN(d_x, m, nonlinearity="relu", bias=False, batch_first=True)
        self.readout = torch.nn.Linear(m, d, bias=False)
        self.rnn.to(weights.W.device, weights.W.dtype)
        self.readout.to(weights.W.device, weights.W.dtype)
        with torch.no_grad():
            self.rnn.weight_hh_l0.copy_(weights.W[0])
            self.rnn.weight_ih_l0.copy_(weights.A[0])
            self.readout.weight.copy_(weights.B[0])
        self.rnn.weight_ih_l0.requires_grad_(False)
        self.readout.weight.requires_grad_(False)
        self.optimizer = torch.optim.SGD([self.rnn.weight_hh_l0], lr=lr)
        self.X, self.Y = problem.X[0], problem.Y[0]

    def gradient(self) -> torch.Tensor:
        self.optimizer.zero_grad()
        self.loss().backward()
        return self.rnn.weight_hh_l0.grad.detach().clone()

    def loss(self) -> torch.Tensor:
        h, _ = self.rnn(self.X)
        return 0.5 * (self.readout(h[:, 1:]) - self.Y[:, 1:]).square().sum()

    def step(self) -> None:
        self.optimizer.zero_grad()
        self.loss().backward()
        self.optimizer.step()


def time_once(step, device: torch.device) -> float:
    synchronize(device)
    start = time.perf_counter()
    step()
    synchronize(device)
    return time.perf_counter() - start


def gradient_agreement(m: int, n: int, L: int, device: torch.device) -> float:
    """Relative difference of the two gradients, in float64 (so only the method differs)."""
    weights, problem = make_inputs(m, n, L, device, torch.float64)
    engine = closed_form_gradient(weights, problem)["W"][0]
    baseline = PlainPyTorch(weights, problem, lr=0.0).gradient()
    return float((engine - baseline).norm() / baseline.norm())


def benchmark(m: int, n: int, L: int, device: torch.device, dtype: torch.dtype, repeats: int) -> dict[str, float]:
    weights, problem = make_inputs(m, n, L, device, dtype)
    lr = 0.01 / m
    baseline = PlainPyTorch(weights, problem, lr)
    optimizer = GradientDescent()
    params = optimizer.parse_params({"steps": 1, "lr": lr})
    lr_tensor = torch.tensor([lr], device=device, dtype=dtype)
    state = {"weights": weights}

    def engine_step() -> None:
        state["weights"] = optimizer.step(params, None, state["weights"], problem, lr_tensor, ELMAN)

    steps = {"engine": engine_step, "pytorch": baseline.step}
    if device.type == "cuda":  # the step as the training loop runs it on a GPU: one replayed graph
        steps["graphed"] = CapturedStep(optimizer, params, None, weights, problem, lr_tensor, ELMAN).replay
    for _ in range(3):  # warm-up: allocator, kernels, thread pools
        for step in steps.values():
            step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):  # alternating, so that a slow spell of the machine hits both
        for name, step in steps.items():
            times[name].append(time_once(step, device))
    row = {f"{name}_ms": 1e3 * statistics.median(values) for name, values in times.items()}
    row["speedup"] = paired_speedup(times["pytorch"], times["engine"])
    if "graphed" in times:
        row["graphed_speedup"] = paired_speedup(times["pytorch"], times["graphed"])
    return row


def paired_speedup(baseline: list[float], candidate: list[float]) -> float:
    """The median over repeats of baseline time / candidate time, each pair timed back to back:
    a slow spell of a shared machine slows both of a pair, so the ratio varies less than either."""
    return statistics.median(b / c for b, c in zip(baseline, candidate))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--dtype", nargs="+", default=["float32", "float64"], choices=["float32", "float64"])
    args = parser.parse_args()
    device = resolve_device(args.device)
    print(f"device={device} torch={torch.__version__} threads={torch.get_num_threads()} W trained")
    graphed = device.type == "cuda"
    print(f"{'dtype':>8} {'m':>6} {'n':>4} {'L':>4} {'grad rel diff':>14} {'engine ms':>10} {'pytorch ms':>11} {'speedup':>8}"
          + (f" {'graphed ms':>11} {'speedup':>8}" if graphed else ""))
    for dtype_name in args.dtype:
        for m, n, L in SHAPES:
            agreement = gradient_agreement(m, n, L, device)
            row = benchmark(m, n, L, device, getattr(torch, dtype_name), args.repeats)
            print(f"{dtype_name:>8} {m:>6} {n:>4} {L:>4} {agreement:>14.2e} {row['engine_ms']:>10.2f} "
                  f"{row['pytorch_ms']:>11.2f} {row['speedup']:>8.2f}"
                  + (f" {row['graphed_ms']:>11.2f} {row['graphed_speedup']:>8.2f}" if graphed else ""), flush=True)


if __name__ == "__main__":
    main()
