"""What a job is made of: the component calls of its stages, its trainings with the diagnostic
stages that measure them, and the job itself (one grid point, fully resolved)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from framework.configuration.grid import GridPoint
from framework.contract.components import Component, Params
from framework.contract.diagnostic import ProblemShape
from framework.engine.network import Network
from framework.engine.output_scale import OutputScaled
from framework.engine.tensors import WeightLayout
from framework.planning.schedule import DEFAULT_SCHEDULE, log_schedule


DEFAULT_MODEL_STAGE = ""  # the stage of the default model, which no pipeline stage names


@dataclass(frozen=True)
class Call:
    """One component run by one job: which, with what parameters, from which seed."""

    stage: str
    kind: str
    name: str
    component: type[Component]
    params: Params
    seed: int

    def key(self) -> tuple[str, str, str, int]:
        """Identical keys compute identical results: the stage is computed once and shared."""
        return (self.kind, self.name, self.params.model_dump_json(), self.seed)


@dataclass(frozen=True)
class DiagnosticCall:
    """A diagnostic with the steps at which it is measured."""

    call: Call
    steps: tuple[int, ...]


@dataclass(frozen=True)
class Training:
    """One optimizer stage of a job with the diagnostic stages that measure it."""

    call: Call
    diagnostics: tuple[DiagnosticCall, ...]

    @cached_property
    def steps(self) -> tuple[int, ...]:
        """The steps at which f is logged: every step a diagnostic stage measures at, and the
        last step, so that the training runs all its steps (the default log schedule when no
        diagnostic measures it)."""
        logged = {s for d in self.diagnostics for s in d.steps}
        if not logged:
            return tuple(log_schedule(self.call.params.steps, DEFAULT_SCHEDULE["log"]))
        return tuple(sorted(logged | {self.call.params.steps}))


@dataclass(frozen=True)
class Job:
    """One grid point, fully resolved: its data, its initialization and each training of its
    stage DAG; ``shape`` holds the sizes its tensors will have (from the generator's ``shape()``
    and the initializer's m), known before anything is computed; ``model`` the network (its
    stage is ``DEFAULT_MODEL_STAGE`` where the pipeline names none)."""

    point: GridPoint
    data: Call
    init: Call
    trainings: tuple[Training, ...]
    shape: ProblemShape
    model: Call

    @property
    def diagnostics(self) -> tuple[DiagnosticCall, ...]:
        """The diagnostic stages of every training."""
        return tuple(d for training in self.trainings for d in training.diagnostics)

    @property
    def calls(self) -> tuple[Call, ...]:
        """Every component the job runs."""
        declared = (self.model,) if self.model.stage != DEFAULT_MODEL_STAGE else ()
        return (*declared, self.data, self.init, *(t.call for t in self.trainings),
                *(d.call for d in self.diagnostics))

    def network(self) -> Network:
        """The model's network, for any K: with its output centered and scaled where the model
        stage sets ``output_scale`` (anchored to each training's W0 by ``Network.around``)."""
        network = self.model.component(self.model.params)
        scale = getattr(self.model.params, "output_scale", None)
        return network if scale is None else OutputScaled(network, scale, self.model.params.output_centered)

    def weight_layout(self) -> WeightLayout:
        """The shapes of this job's weights: the model's at the initializer's width on the data's sizes."""
        return self.network().weight_layout(self.init.params.m, self.shape.d_x, self.shape.d)

    @property
    def training_steps(self) -> int:
        """The steps of all its trainings together: a task's length, for progress and estimates."""
        return sum(training.call.params.steps for training in self.trainings)

    @property
    def steps(self) -> tuple[int, ...]:
        """Every step at which some training logs f."""
        return tuple(sorted({s for training in self.trainings for s in training.steps}))
