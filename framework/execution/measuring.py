"""Measuring one training: the diagnostic stages that need it, run on their schedules.

The training loop calls a ``Measurements`` at every logged step; at a step some diagnostic
stage measures at, one ``Probe`` is made for the ensemble and shared by every diagnostic due
there, so the forward passes, the gradient and the bases are computed once per step. Each
diagnostic stage draws (``semi_smoothness``'s W′) from its own seed: that of its stage and grid
point, and the step, so adding or renaming another stage changes nothing it measures.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from collections.abc import Sequence

import numpy as np
import torch

from framework.engine.padding import Padding
from framework.engine.probe import Probe
from framework.engine.seeds import derive_seed
from framework.engine.network import Network
from framework.engine.tensors import Problem, Weights, per_member
from framework.execution import measured_together
from framework.planning.calls import Job, Training
from framework.contract.store_layout import Layout

if TYPE_CHECKING:
    from torch import Tensor


class ResultArrays:
    """The diagnostics' values of K members, one array per variable shaped by the layout (NaN
    where nothing was measured); every training of the task writes into them."""

    def __init__(self, jobs: Sequence[Job], layout: Layout):
        self.layout = layout
        measured = {d.call.name for d in jobs[0].diagnostics}
        self.values = {name: np.full((len(jobs), *layout.shape(v)), np.nan) for name, v in layout.variables.items()
                       if v.diagnostic in measured}
        self.step_index = {s: i for i, s in enumerate(layout.steps)}

    def put(self, name: str, stage: str, step: int, value: np.ndarray, diverged: np.ndarray) -> None:
        """One output of one diagnostic stage at one step, ``[K, ...]``; members that diverged get NaN."""
        variable = self.layout.variables[name]
        value = value.copy()
        value[diverged] = np.nan
        target = self.values[name]
        if variable.staged:
            target = target[:, self.layout.stages.index(stage)]
        if variable.scheduled:
            target = target[:, self.step_index[step]]
        region = (slice(None),) + tuple(slice(0, size) for size in value.shape[1:])
        target[region] = value

    def member(self, k: int) -> dict[str, np.ndarray]:
        return {name: array[k] for name, array in self.values.items()}


class Measurements:
    """The ``on_log`` of one training: f's history, and the diagnostics due at each step.

    ``trainings`` holds each member's ``Training`` (the same stages, with per-member seeds).
    A padded ensemble (``framework.engine.padding``) is measured cut back to each member's real
    neurons and sequences, so that a diagnostic sees the network it would see unpadded: all
    members at once as one cut-back ensemble where that was found to give each member its values
    alone bit for bit, member by member otherwise (``framework.execution.measured_together``).
    """

    def __init__(self, trainings: Sequence[Training], results: ResultArrays, initial: Weights, problem: Problem,
                 padding: Padding, network: Network, learning_rate: Tensor | None = None):
        self.network = network
        first = trainings[0]
        wanted = any(d.call.component().uses_every_step_loss for d in first.diagnostics)
        #: f at every step, ``[steps + 1, K]``, when a diagnostic reads it: training fills the steps
        #: its updates computed f at, this the logged ones (``Probe.every_step_loss``)
        self.every_step_loss = (torch.full((first.call.params.steps + 1, initial.K), float("nan"),
                                           dtype=problem.X.dtype, device=problem.X.device) if wanted else None)
        self.learning_rate = learning_rate
        self.trainings, self.results, self.initial, self.problem = trainings, results, initial, problem
        self.padding = padding
        self.history_steps: list[int] = []
        self.history_loss: list[Tensor] = []
        # W0, problem and network cut back: of the whole ensemble (key None), of member k (key k)
        self._real: dict[int | None, tuple[Weights, Problem, Network]] = {}
        self._initial_caches: dict[int | None, dict] = {}  # the probes' initial_cache, by the same keys

    def __call__(self, step: int, weights: Weights, f: Tensor, diverged: Tensor) -> None:
        self.history_steps.append(step)
        self.history_loss.append(f)
        every = self.every_step_loss
        if every is not None:
            every[step] = f
            every = every[: step + 1]
        first = self.trainings[0]
        due = [i for i, d in enumerate(first.diagnostics) if step in d.steps]
        if not due:
            return
        if diverged.any():  # diverged members are measured at their initial weights, then blanked
            keep = diverged.to(weights.device)
            weights = Weights({name: torch.where(per_member(keep, w), self.initial[name], w)
                               for name, w in weights.tensors.items()}, weights.dims)
        history = torch.stack(self.history_loss)
        if not self.padding.active:
            values = self._values(due, self._probe(weights, self.initial, self.problem, self.network, step, history,
                                                   every, self.learning_rate, None), step, self.trainings)
        else:
            values = measured_together.measured(self._kind(weights, due), weights.K,
                                                lambda: self._together(due, weights, step, history, every),
                                                lambda: self._apart(due, weights, step, history, every))
        blank = diverged.numpy()
        for (name, stage), value in values.items():
            self.results.put(name, stage, step, value, blank)

    def _probe(self, weights: Weights, initial: Weights, problem: Problem, network: Network, step: int,
               history: Tensor, every: Tensor | None, rate: Tensor | None, key: int | None) -> Probe:
        return Probe(weights, initial, problem, trained=self.trainings[0].call.params.trained, step=step,
                     history_steps=self.history_steps, history_loss=history, every_step_loss=every, network=network,
                     learning_rate=rate, initial_cache=self._initial_caches.setdefault(key, {}))

    def _cut_back(self, key: int | None) -> tuple[Weights, Problem, Network]:
        """W0, the problem and the network of the whole ensemble (None) or of member k, cut back."""
        if key not in self._real:
            initial, problem = ((self.initial, self.problem) if key is None
                                else (self.initial.member(key), self.problem.member(key)))
            initial, problem = self.padding.real_weights(initial), self.padding.real_problem(problem)
            self._real[key] = (initial, problem, self.network.around(initial, problem))
        return self._real[key]

    def _together(self, due: list[int], weights: Weights, step: int, history: Tensor,
                  every: Tensor | None) -> dict[tuple[str, str], np.ndarray]:
        """The diagnostics ``due`` of all members at once, on the ensemble cut back."""
        initial, problem, network = self._cut_back(None)
        probe = self._probe(self.padding.real_weights(weights), initial, problem, network, step, history, every,
                            self.learning_rate, None)
        return self._values(due, probe, step, self.trainings)

    def _apart(self, due: list[int], weights: Weights, step: int, history: Tensor,
               every: Tensor | None) -> dict[tuple[str, str], np.ndarray]:
        """The diagnostics ``due`` of each member on its own, cut back, stacked."""
        measured = []
        for k in range(weights.K):
            initial, problem, network = self._cut_back(k)
            rate = None if self.learning_rate is None else self.learning_rate[k : k + 1]
            probe = self._probe(self.padding.real_weights(weights.member(k)), initial, problem, network, step,
                                history[:, k : k + 1], None if every is None else every[:, k : k + 1], rate, k)
            measured.append(self._values(due, probe, step, self.trainings[k : k + 1]))
        return {key: np.concatenate([member[key] for member in measured]) for key in measured[0]}

    def _kind(self, weights: Weights, due: list[int]) -> tuple:
        """What decides whether a measurement is exact together: shapes, dtype, device, the
        network's kind, the ensemble's size and the diagnostics due (``measured_together``)."""
        calls = [self.trainings[0].diagnostics[i].call for i in due]
        return (type(self.network).__qualname__, self.padding, tuple(tuple(t.shape) for t in weights.tensors.values()),
                tuple(self.problem.X.shape), str(weights.dtype), str(weights.device),
                tuple(self.trainings[0].call.params.trained),
                tuple((call.name, call.params.model_dump_json()) for call in calls))

    @staticmethod
    def _values(due: list[int], shared: Probe, step: int,
                trainings: Sequence[Training]) -> dict[tuple[str, str], np.ndarray]:
        """The outputs of the diagnostics ``due`` of the probed members (``trainings``), each
        diagnostic drawing from its stage's own seeds: ``{(output, stage): [K, ...]}``."""
        values = {}
        for i in due:
            call = trainings[0].diagnostics[i].call
            probe = shared.reseeded(lambda i=i: [derive_seed(t.diagnostics[i].call.seed, "probe", step)
                                                 for t in trainings])
            for name, value in call.component().measure(call.params, probe).items():
                values[(name, call.stage)] = value.detach().to("cpu", torch.float64).numpy()
        return values
