"""When things are measured: the logging schedule of a training run and of each diagnostic stage."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

DEFAULT_SCHEDULE = {"log": 40}


def log_schedule(steps: int, points: int = 40) -> list[int]:
    """Step 0, about ``points`` logarithmically spaced steps, and the last step ``steps``.

    Linear convergence makes log f linear in t, so early steps need dense logging and late
    ones little; the schedule depends only on (steps, points), so every job of a scan logs
    the same steps (the store's ``step`` dimension).
    """
    if steps < 0 or points < 1:
        raise ValueError(f"need steps >= 0 and points >= 1, got steps={steps}, points={points}")
    if steps == 0:
        return [0]
    spaced = {round(math.exp(math.log(steps) * j / (points - 1))) for j in range(points)} if points > 1 else set()
    return sorted({0, steps} | spaced)


def schedule_steps(schedule: Mapping[str, Any] | None, steps: int, when: str) -> tuple[int, ...]:
    """The steps a diagnostic stage measures at: step 0 (``when: init``), the last step (``end``), or
    its ``schedule:`` (``log: POINTS``, ``every: K``, ``at: [...]``; default ``log: 40``)."""
    if when == "init":
        return (0,)
    if when == "end":
        return (steps,)
    schedule = schedule or DEFAULT_SCHEDULE
    if "log" in schedule:
        return tuple(log_schedule(steps, schedule["log"]))
    if "every" in schedule:
        return tuple(sorted(set(range(0, steps + 1, schedule["every"])) | {steps}))
    return tuple(sorted(s for s in set(schedule["at"]) if s <= steps))
