"""How true the progress estimate is: every plain progress line of a run, its ``eta`` beside
the time that was really left (the run's last line less the line's own time), and the
relative error after the first tenth of the scan's points.

A run of the pipeline from scratch, then (``--resume-at K``) a run interrupted with Ctrl-C
once K points are done and resumed: the resumed run's trace is the second table.

    python benchmarks/eta_accuracy.py pipelines/quickstart.yaml [--resume-at 6]
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LINE = re.compile(r"^\[(\d+)/(\d+)\].*elapsed (\S+), eta (\S+)$")


def seconds(text: str) -> float:
    """``12.3s``, ``4m05s``, ``2h10m`` as printed by the progress display."""
    if text.endswith("s") and "m" not in text:
        return float(text[:-1])
    if text.endswith("s"):
        minutes, rest = text[:-1].split("m")
        return 60 * int(minutes) + int(rest)
    hours, rest = text[:-1].split("h")
    return 3600 * int(hours) + 60 * int(rest)


def trace(pipeline: Path, store: Path, stop_after: int | None = None) -> list[tuple[float, int, int, float]]:
    """(time, done, total, eta) of each progress line; Ctrl-C once ``stop_after`` points are done."""
    command = [sys.executable, "-m", "framework.cli.commands", "run", str(pipeline), "--store", str(store),
               "--progress", "plain"]
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           start_new_session=True)
    lines = []
    assert run.stdout is not None
    for line in run.stdout:
        match = LINE.match(line.strip())
        if match:
            done, total, eta = int(match[1]), int(match[2]), seconds(match[4])
            lines.append((time.monotonic(), done, total, eta))
            if stop_after is not None and done >= stop_after:
                os.killpg(run.pid, signal.SIGINT)
                break
    run.wait()
    return lines


def report(title: str, lines: list[tuple[float, int, int, float]]) -> float:
    """Print the trace; the largest relative error after the first tenth of the points."""
    end = lines[-1][0]
    print(f"\n{title}\n{'done':>9} {'eta s':>8} {'left s':>8} {'error':>7}")
    worst = 0.0
    for stamp, done, total, eta in lines:
        left = end - stamp
        error = (eta - left) / left if left > 0 else 0.0
        print(f"{done:>4}/{total:<4} {eta:8.1f} {left:8.1f} {error:+7.0%}" if left > 0 else
              f"{done:>4}/{total:<4} {eta:8.1f} {left:8.1f}       -")
        if left > 0 and done >= total / 10:
            worst = max(worst, abs(error))
    print(f"largest error after the first tenth: {worst:.0%}")
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pipeline", type=Path)
    parser.add_argument("--resume-at", type=int, default=None, help="also interrupt a run after K points and resume it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        report("from scratch", trace(args.pipeline, Path(folder) / "fresh.zarr"))
        if args.resume_at is not None:
            store = Path(folder) / "resumed.zarr"
            trace(args.pipeline, store, stop_after=args.resume_at)
            report(f"resumed after {args.resume_at} points", trace(args.pipeline, store))


if __name__ == "__main__":
    main()
