"""Whole scans as planned against the same scans run one grid point per task (``--max-ensemble
1``): what packing gains where it counts, from the command line to the last write.

Two scans of the throughput issue: 64 points of m = 32 (n = 8, L = 8, 400 GD steps, the loss at
3 logged steps; step sizes c/m below the edge of stability, so that no point stops early), where ensembles should gain several times, and 16 points of m = 256 (n = 32,
L = 16, 600 GD steps, the loss at 3 logged steps), where a batched step loses on a CPU and a
task should run its members in parts instead (framework/execution/ensemble_choice.py). Each
is run with ``overparam run`` on the default local cluster, alternating the two ways, and
the scan's own times (the run's "finished in", after its cluster started) are printed with
their ratio, beside each command's wall time and its run's time split.

    python benchmarks/packing_scan.py [--repeats 1]
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCAN = """\
name: {name}
dtype: float32
grid:
  m: [{m}]
  seed: {seeds}
  c: {c}
stages:
  data: {{plugin: separable, params: {{n: {n}, L: {L}, d_x: 4, d: 2, delta: 0.3}}}}
  init: {{plugin: paper, params: {{m: "${{grid.m}}"}}}}
  train: {{plugin: gd, params: {{steps: {steps}, lr: c/m}}, needs: [data, init]}}
  diagnose: {{plugins: [loss], schedule: {{log: 3}}, needs: [train]}}
store: {name}.zarr
"""

SCANS = {
    "narrow": {"m": 32, "seeds": 16, "n": 8, "L": 8, "steps": 400, "c": [0.005, 0.01, 0.015, 0.02]},  # 64 points
    "wide": {"m": 256, "seeds": 4, "n": 32, "L": 16, "steps": 600, "c": [0.001, 0.002, 0.003, 0.004]},  # 16 points
}


def run(folder: Path, name: str, extra: list[str]) -> tuple[float, str]:
    """The scan's seconds in one ``overparam run`` of it into a fresh store, and its last line."""
    store = folder / f"{name}-{len(extra)}-{time.monotonic_ns()}.zarr"
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "framework.cli.commands", "run", str(folder / f"{name}.yaml"),
                           "--store", str(store), "--quiet", *extra], capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(done.stdout + done.stderr)
    line = done.stdout.strip().splitlines()[-1]
    return float(re.search(r"finished in ([\d.]+)s", line).group(1)), f"command {wall:.1f} s; {split(line)}"


def split(line: str) -> str:
    """The time split at the end of a run's summary line."""
    found = re.search(r"worker time .*", line)
    return found.group() if found else line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, shape in SCANS.items():
            (folder / f"{name}.yaml").write_text(SCAN.format(name=name, **shape))
            planned, alone = [], []
            for _ in range(args.repeats):
                seconds, line = run(folder, name, [])
                planned.append(seconds)
                print(f"{name}, as planned: scan {seconds:.1f} s; {line}", flush=True)
                seconds, line = run(folder, name, ["--max-ensemble", "1"])
                alone.append(seconds)
                print(f"{name}, --max-ensemble 1: scan {seconds:.1f} s; {line}", flush=True)
            print(f"{name} ({4 * shape['seeds']} points, m = {shape['m']}): planned {min(planned):.1f} s, one per task "
                  f"{min(alone):.1f} s: {min(alone) / min(planned):.2f}x", flush=True)


if __name__ == "__main__":
    main()
