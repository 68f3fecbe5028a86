"""How many of a task's members step at once, all together as one ensemble, in parts, or one
after another: measured, once per worker process and kind of task, on the task's own weights
and data.

An ensemble's step reads every member's weights at every layer. Where K members' recurrent
weights outgrow the caches that hold one member's (on a CPU, m = 256 and wider), one batched
step of K costs more than K steps of one; on a GPU, or for small networks, the batched step wins
by as much as K times, and between the two a part of the ensemble can beat both (on 2 CPU cores,
4 members of m = 32 at a time beat 16). Which size is fastest depends on the machine, so it is
measured rather than guessed: a few steps of the whole ensemble, of its first half, quarter,
…, and of its first member alone, on copies (the task's own training is untouched). A member's results are the
same bit for bit either way (a member of an ensemble computes what it computes alone), so the
choice changes how fast a task runs, never what it finds. ``OVERPARAM_ENSEMBLE=together`` (or
``alone``) in a worker's environment fixes the choice instead (the tests of the batched path set
``together``).
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Hashable
from typing import Any

import torch

CHOICE_VARIABLE = "OVERPARAM_ENSEMBLE"
CHOICES = ("measure", "together", "alone")
REPEATS = 3  # timed calls each way, after one untimed call (the first call's one-off costs)

_CHOICES: dict[Hashable, int] = {}


def timed_call(step: Callable[[], Any], device: torch.device) -> float:
    """Seconds of one call of ``step``, its device's queued work included (CUDA synchronized)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def _seconds(step: Callable[[], Any], device: torch.device) -> float:
    """The fastest of ``REPEATS`` calls of ``step``, after one untimed call."""
    step()
    return min(timed_call(step, device) for _ in range(REPEATS))


def members_per_run(kind: Hashable, members: int, step_of: Callable[[int], Callable[[], Any]],
                    device: torch.device) -> int:
    """How many of a task's ``members`` to step at once: all of them, or a part run after part
    (1: one after another). The first time a kind is seen in this process, ``step_of(size)``
    gives a step of the task's first ``size`` members (on copies) for ``size`` = K, K/2, K/4, …,
    1, each is timed, and the size with the least time per member is kept."""
    fixed = os.environ.get(CHOICE_VARIABLE, "measure")
    if fixed not in CHOICES:
        raise ValueError(f"{CHOICE_VARIABLE}={fixed}: expected one of {', '.join(CHOICES)}")
    if fixed != "measure":
        return members if fixed == "together" else 1
    if kind not in _CHOICES:
        sizes = sorted({max(1, members >> halvings) for halvings in range(members.bit_length())}, reverse=True)
        _CHOICES[kind] = min(sizes, key=lambda size: _seconds(step_of(size), device) / size)
    return _CHOICES[kind]
