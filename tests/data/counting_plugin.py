"""A test plugin that counts computations: the built-in ``separable`` generator and ``paper``
initializer, each call appending one line ``<kind> <process id>`` to the file named by its
``log`` parameter (a ``PipelinePath``), so a test can count what a run computed, and where;
and ``VALIDATIONS``, how often this process validated the initializer's parameters."""
from __future__ import annotations

import os

from pydantic import Field, model_validator

from overparam import InitializerParams, PipelinePath, hookimpl
from plugins.initializers import PaperInitialization
from plugins.separable import Separable, SeparableParams


def _count(path, kind: str) -> None:
    with open(path, "a") as log:
        log.write(f"{kind} {os.getpid()}\n")


class CountedDataParams(SeparableParams):
    log: PipelinePath = Field(description="file each generated data set appends a line to")


VALIDATIONS = {"init": 0}


class CountedInitParams(InitializerParams):
    log: PipelinePath = Field(description="file each initialization appends a line to")

    @model_validator(mode="after")
    def _counted(self):
        VALIDATIONS["init"] += 1
        return self


class CountedSeparable(Separable):
    name = "counted_separable"
    Params = CountedDataParams

    def generate(self, params, seed):
        _count(params.log, "data")
        return super().generate(params, seed)


class CountedPaper(PaperInitialization):
    name = "counted_paper"
    Params = CountedInitParams

    def initialize(self, params, layout, seed):
        _count(params.log, "init")
        return super().initialize(params, layout, seed)


@hookimpl
def overparam_register_generators():
    return [CountedSeparable]


@hookimpl
def overparam_register_initializers():
    return [CountedPaper]
