"""How true the progress estimate is: every frame of a run's progress (each progress event
of a worker and each finished batch, when the bar redraws), its estimate beside the time
that was really left (the last batch's end less the frame's time), and the largest error
after the first tenth of the scan's points, relative to the time left where at least
``FLOOR`` seconds were (nearer the end, a frame is judged by its error in seconds).

A run of the pipeline from scratch, then (``--resume-at K``) a run interrupted with Ctrl-C
once K points are done and resumed, once every process of the interrupted run has ended (its
cluster's workers outlive its client by seconds, and a resumed run sharing the cores with them
would time its first batches slow): the resumed run's trace is the second table. The runs
go through the Python API in this process, on its shared local cluster.

With ``--trace``, every call the estimate received (a batch announced, started, its worker's
progress with the time left it predicted, finished) is printed after each table, beside the
time that batch really had left: which batch's pricing made a frame's error.

    python benchmarks/eta_accuracy.py pipelines/quickstart.yaml [--resume-at 6] [--trace]
"""
from __future__ import annotations

import argparse
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

LINE = re.compile(r"^\[(\d+)/(\d+)\]")


FLOOR = 2.0  # seconds left below which a frame's error is judged in seconds, not relative


Call = tuple[float, str, tuple]  # (time.perf_counter(), TimeLeft's method, its arguments)


@contextmanager
def estimate_calls() -> Iterator[list[Call]]:
    """Every call of ``TimeLeft.expect``, ``started``, ``progress`` and ``finished`` while inside."""
    from framework.execution.time_left import TimeLeft

    calls: list[Call] = []
    originals = {name: getattr(TimeLeft, name) for name in ("expect", "started", "progress", "finished")}

    def recording(name: str, original: Callable[..., None]) -> Callable[..., None]:
        def method(self: TimeLeft, *args: object, **kwargs: object) -> None:
            calls.append((time.perf_counter(), name, args + tuple(kwargs.values())))
            original(self, *args, **kwargs)
        return method

    for name, original in originals.items():
        setattr(TimeLeft, name, recording(name, original))
    try:
        yield calls
    finally:
        for name, original in originals.items():
            setattr(TimeLeft, name, original)


def print_calls(calls: list[Call]) -> None:
    """The calls, each batch's progress beside the time it really had left (to its finish)."""
    if not calls:
        return
    start = calls[0][0]
    ends = {args[0]: stamp for stamp, name, args in calls if name == "finished"}
    for stamp, name, args in calls:
        batch = str(args[0]).rsplit("-", 1)[-1]
        if name == "expect":
            text = f"work {args[1]:.3g}, {args[2]} points"
        elif name == "progress":
            predicted = args[4] if len(args) > 4 else None
            text = (f"fraction {args[1]:.3f}, predicted "
                    + (f"{predicted:.2f} s" if predicted is not None else "-")
                    + f", true {ends.get(args[0], stamp) - stamp:.2f} s")
        else:
            text = ""
        print(f"{stamp - start:7.2f} {name:9} batch {batch:>4} {text}")


def frames(pipeline: Path, store: Path) -> list[tuple[float, float, int, float]]:
    """(time, points done, total, estimate) at every redraw of the run's progress."""
    import overparam
    from framework.execution.progress import ScanProgress

    seen: list[tuple[float, float, int, float]] = []
    redraw = ScanProgress._refresh

    def recorded(self: ScanProgress) -> None:
        seen.append((time.monotonic(), self.completed(), self.total, self.estimate()))
        redraw(self)

    ScanProgress._refresh = recorded  # type: ignore[method-assign]
    try:
        overparam.run(pipeline, store=store, progress="quiet")
    finally:
        ScanProgress._refresh = redraw  # type: ignore[method-assign]
    return seen


def interrupted(pipeline: Path, store: Path, stop_after: int) -> None:
    """A command-line run stopped with Ctrl-C once ``stop_after`` points are done."""
    command = [sys.executable, "-m", "framework.cli.commands", "run", str(pipeline), "--store", str(store),
               "--progress", "plain"]
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           start_new_session=True)
    assert run.stdout is not None
    for line in run.stdout:
        match = LINE.match(line.strip())
        if match and int(match[1]) >= stop_after:
            os.killpg(run.pid, signal.SIGINT)
            break
    run.wait()
    gone_by = time.monotonic() + 60  # its local cluster's workers may outlive it: the resumed run must not share the cores
    while time.monotonic() < gone_by:
        try:
            os.killpg(run.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)


def report(title: str, seen: list[tuple[float, float, int, float]]) -> tuple[float, float]:
    """Print the trace; the largest relative error (frames with at least ``FLOOR`` s left) and
    the largest error in seconds (the others), both after the first tenth of the points."""
    end = seen[-1][0]
    print(f"\n{title}\n{'done':>11} {'eta s':>7} {'left s':>7} {'error':>8}")
    relative = absolute = 0.0
    for stamp, done, total, eta in seen:
        left = end - stamp
        if left >= FLOOR:
            error = f"{(eta - left) / left:+8.0%}"
        else:
            error = f"{eta - left:+7.1f}s"
        print(f"{done:6.2f}/{total:<4} {eta:7.1f} {left:7.1f} {error}")
        if done >= total / 10 and math.isfinite(eta):
            if left >= FLOOR:
                relative = max(relative, abs(eta - left) / left)
            else:
                absolute = max(absolute, abs(eta - left))
    print(f"after the first tenth: largest error {relative:.0%} of the time left, "
          f"{absolute:.1f} s in the last {FLOOR:g} s")
    return relative, absolute


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pipeline", type=Path)
    parser.add_argument("--resume-at", type=int, default=None, help="also interrupt a run after K points and resume it")
    parser.add_argument("--trace", action="store_true", help="print every call the estimate received")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        with estimate_calls() as calls:
            report("from scratch", frames(args.pipeline, Path(folder) / "fresh.zarr"))
        if args.trace:
            print_calls(calls)
        if args.resume_at is not None:
            store = Path(folder) / "resumed.zarr"
            interrupted(args.pipeline, store, args.resume_at)
            with estimate_calls() as calls:
                report(f"resumed after {args.resume_at} points", frames(args.pipeline, store))
            if args.trace:
                print_calls(calls)


if __name__ == "__main__":
    main()
