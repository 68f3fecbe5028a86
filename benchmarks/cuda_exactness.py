"""How far a member of a CUDA ensemble is from itself run alone, per result variable.

On the CPU the tests require bit-for-bit equality in float64 (tests/test_packing.py); cuBLAS
picks its batched kernels by batch size, so on a GPU this script measures the difference
instead of assuming it.

    python benchmarks/cuda_exactness.py [--dtype float64]
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from framework.execution.task import run_ensemble

from framework.planning.plan import plan_file

PIPELINE = """\
name: exactness
dtype: {dtype}
grid:
  lr: [0.01, 0.03, 0.06]
  seed: 4
stages:
  data: {{plugin: separable, params: {{n: 16, L: 8, d_x: 8, d: 4, delta: 0.3}}}}
  init: {{plugin: paper, params: {{m: 256}}}}
  train: {{plugin: sgd, params: {{steps: 300, lr: "${{grid.lr}}/sqrt(m)"}}, needs: [data, init]}}
  diagnose: {{plugins: [loss, pl_ratio, weight_distance, dprime_sparsity, forward_norms, separability], schedule: {{log: 10}}, needs: [train]}}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", default="float64")
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "exactness.yaml"
        path.write_text(PIPELINE.format(dtype=args.dtype))
        plan = plan_file(path)
    layout = plan.layout
    jobs = list(plan.jobs)
    together = run_ensemble(jobs, layout, args.device, args.dtype)
    worst: dict[str, float] = {}
    identical = 0
    for job, packed in zip(jobs, together):
        alone = run_ensemble([job], layout, args.device, args.dtype)[0]
        same = True
        for name, values in alone.values.items():
            a, b = packed.values[name], values
            same &= bool(np.array_equal(a, b, equal_nan=True))
            scale = np.nanmax(np.abs(b)) or 1.0
            worst[name] = max(worst.get(name, 0.0), float(np.nanmax(np.abs(a - b)) / scale))
        identical += same
    print(f"{args.device} {args.dtype}: {identical}/{len(jobs)} members bit for bit equal to themselves alone (K={len(jobs)})")
    for name, value in sorted(worst.items()):
        print(f"  {name:<32} max relative difference {value:.2e}")


if __name__ == "__main__":
    main()
