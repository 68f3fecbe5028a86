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

    def put(self, name: str, stage: str, step: int, value: np.ndarray, diverged: np.ndarray,
            members: slice = slice(None)) -> None:
        """One output of one diagnostic stage at one step, for ``members`` (all by default);
        members that diverged get NaN."""
        variable = self.layout.variables[name]
        value = value.copy()
        value[diverged] = np.nan
        target = self.values[name][members]
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
    A padded ensemble (``framework.engine.padding``) is measured member by member, each cut back
    to its real neurons and sequences: a diagnostic sees the network it would see unpadded, and
    the member's blocks are those it has alone (a cut-back ensemble's blocks would sit at
    unaligned offsets, where BLAS rounds by position).
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
        self._real: list[tuple[Weights, Problem, Network]] | None = None  # each member's W0, problem, network, cut back
        self._initial_caches: dict[int | None, dict] = {}  # the probes' initial_cache: of the ensemble, or of member k

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
        blank = diverged.numpy()
        if not self.padding.active:
            probe = Probe(weights, self.initial, self.problem, trained=first.call.params.trained, step=step,
                          history_steps=self.history_steps, history_loss=history, every_step_loss=every,
                          network=self.network,
                          learning_rate=self.learning_rate, initial_cache=self._initial_caches.setdefault(None, {}))
            self._measure(due, probe, step, blank, slice(None))
            return
        if self._real is None:
            real = [(self.padding.real_weights(self.initial, k), self.padding.real_problem(self.problem, k))
                    for k in range(weights.K)]
            self._real = [(initial, problem, self.network.around(initial, problem)) for initial, problem in real]
        for k, (initial, problem, network) in enumerate(self._real):
            rate = None if self.learning_rate is None else self.learning_rate[k : k + 1]
            probe = Probe(self.padding.real_weights(weights, k), initial, problem, trained=first.call.params.trained,
                          step=step, history_steps=self.history_steps, history_loss=history[:, k : k + 1],
                          every_step_loss=None if every is None else every[:, k : k + 1],
                          network=network, learning_rate=rate, initial_cache=self._initial_caches.setdefault(k, {}))
            self._measure(due, probe, step, blank[k : k + 1], slice(k, k + 1))

    def _measure(self, due: list[int], shared: Probe, step: int, blank: np.ndarray, members: slice) -> None:
        """The diagnostics ``due`` of ``members`` (the trainings' slice the probe holds), each
        with its stage's own seeds."""
        trainings = self.trainings[members]
        for i in due:
            call = trainings[0].diagnostics[i].call
            probe = shared.reseeded([derive_seed(t.diagnostics[i].call.seed, "probe", step) for t in trainings])
            for name, value in call.component().measure(call.params, probe).items():
                self.results.put(name, call.stage, step, value.detach().to("cpu", torch.float64).numpy(), blank,
                                 members)
