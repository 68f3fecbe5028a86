"""Whole scans as planned against the same scans run one grid point per task (``--max-ensemble
1``): what packing gains where it counts, from the command line to the last write.

Two scans of the throughput issue: 64 points of m = 32 (n = 8, L = 8, 400 GD steps, the loss at
3 logged steps; step sizes c/m below the edge of stability, so that no point stops early), where ensembles should gain several times, and 16 points of m = 256 (n = 32,
L = 16, 600 GD steps, the loss at 3 logged steps), where a batched step loses on a CPU and a
task should run its members in parts instead (framework/execution/ensemble_choice.py). Each
is run with ``overparam run`` on the default local cluster, alternating the two ways. Two
times are printed with their ratios: the run's own "finished in", which counts the start of the
local cluster and its workers (about 2 s here, the same both ways), and the time from the run's
"running N grid points" line, when the cluster is up, to its last line; beside them each
command's wall time and its run's time split.

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


def run(folder: Path, name: str, extra: list[str]) -> tuple[float, float, str]:
    """One ``overparam run`` of the scan into a fresh store: the run's own "finished in" (which
    counts the local cluster's start), the seconds from its "running N grid points" line (the
    cluster is up) to its last line, and that line's description."""
    store = folder / f"{name}-{len(extra)}-{time.monotonic_ns()}.zarr"
    start = time.perf_counter()
    command = [sys.executable, "-m", "framework.cli.commands", "run", str(folder / f"{name}.yaml"),
               "--store", str(store), "--progress", "plain", *extra]
    running = last_line = None
    lines = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as child:
        for line in child.stdout:
            lines.append(line)
            if line.startswith("running ") and running is None:
                running = time.perf_counter()
            if line.startswith("finished in"):
                last_line = time.perf_counter()
    wall = time.perf_counter() - start
    if child.returncode != 0 or running is None or last_line is None:
        raise SystemExit("".join(lines))
    line = lines[-1].strip()
    return (float(re.search(r"finished in ([\d.]+)s", line).group(1)), last_line - running,
            f"command {wall:.1f} s; {split(line)}")


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
            planned, alone, planned_up, alone_up = [], [], [], []
            for _ in range(args.repeats):
                seconds, up, line = run(folder, name, [])
                planned.append(seconds)
                planned_up.append(up)
                print(f"{name}, as planned: scan {seconds:.1f} s, {up:.2f} s once the cluster is up; {line}",
                      flush=True)
                seconds, up, line = run(folder, name, ["--max-ensemble", "1"])
                alone.append(seconds)
                alone_up.append(up)
                print(f"{name}, --max-ensemble 1: scan {seconds:.1f} s, {up:.2f} s once the cluster is up; {line}",
                      flush=True)
            print(f"{name} ({4 * shape['seeds']} points, m = {shape['m']}): planned {min(planned):.1f} s, one per task "
                  f"{min(alone):.1f} s: {min(alone) / min(planned):.2f}x; once the cluster is up, "
                  f"{min(planned_up):.2f} s and {min(alone_up):.2f} s: {min(alone_up) / min(planned_up):.2f}x",
                  flush=True)


if __name__ == "__main__":
    main()
