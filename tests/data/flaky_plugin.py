"""A plugin for the failure tests: a generator that raises when asked, and hooks that log.

It is named in the pipelines' ``plugins:`` list, so it is loaded the way a user's module is.
The lifecycle hooks append one JSON line per call to the file named by
``OVERPARAM_TEST_HOOK_LOG``, when that is set.
"""
from __future__ import annotations

import json
import os
from typing import ClassVar

from pydantic import Field

from overparam import Generator, Params, Problem, hookimpl
from plugins.separable import Separable


class FlakyParams(Params):
    n: int = Field(4, ge=1, description="number of sequences")
    L: int = Field(4, ge=1, description="sequence length")
    d_x: int = Field(4, ge=2, description="input dimension")
    d: int = Field(2, ge=1, description="output dimension")
    explode: bool = Field(False, description="raise instead of generating")
    die: bool = Field(False, description="end the worker process instead of generating")


class Flaky(Generator):
    """Separable data, or a RuntimeError when explode is true, or a dead worker when die is."""

    name: ClassVar[str] = "flaky"
    Params: ClassVar[type[Params]] = FlakyParams

    def generate(self, params: FlakyParams, seed: int) -> Problem:
        if params.die:
            os._exit(13)
        if params.explode:
            raise RuntimeError("the flaky generator exploded, as asked")
        separable = Separable()
        return separable.generate(separable.parse_params(params.model_dump(exclude={"explode", "die"})), seed)


def _log(event: str, **fields: object) -> None:
    path = os.environ.get("OVERPARAM_TEST_HOOK_LOG")
    if path:
        with open(path, "a") as handle:
            handle.write(json.dumps({"event": event, **fields}) + "\n")


@hookimpl
def overparam_register_generators():
    return [Flaky]


@hookimpl
def overparam_job_finished(job, result):
    _log("finished", point=job.point.label(), status=result.status)


@hookimpl
def overparam_job_failed(job, error):
    _log("failed", point=job.point.label(), error=error)


@hookimpl
def overparam_run_finished(store, summary):
    _log("run_finished", store=store, ok=summary.ok)
