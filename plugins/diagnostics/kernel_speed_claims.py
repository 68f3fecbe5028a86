"""The report's claims on ``kernel_speed``: does the infinite-width kernel tell, from r_0 alone,
which tasks train slower, and how many steps they take?

Arora, Du, Hu, Li and Wang ("Fine-grained analysis of optimization and generalization for
overparameterized two-layer neural networks", 2019) predict the loss of a wide network trained by
GD as Σ_k (1 − η λ_k)^{2t} (v_kᵀ y)², so that labels lying along the kernel's small eigenvalues
(random ones) train slower than true ones. The claims compare, over a grid axis ``labels``, each
value against the first (``true``) within every combination of the other axes (a task): per
replica, the ratio of the steps to target T of the two trainings (the replicas share their
inputs and W0 across ``labels``), as the kernel predicts it (``kernel_steps_to_target``) and as
training measured it (``rate``'s ``steps_to_target``). Steps and their ratios are averaged over
replicas on a log scale (geometric means), with the Student-t intervals of the logarithms.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from overparam import Assessment, Claim, Column, StoreView, Verdict
from overparam.claims import color, decide, finish, geometric_interval, interval_verdict, median_band

if TYPE_CHECKING:  # matplotlib is imported where a figure is drawn: `overparam show` draws none
    from matplotlib.axes import Axes

LABELS_AXIS = "labels"
PREDICTED, MEASURED = "kernel_steps_to_target", "steps_to_target"
ARORA = ("Arora et al. 2019 (\"Fine-grained analysis of optimization and generalization for overparameterized "
         "two-layer neural networks\")")


def replicas(values: xr.DataArray, selection: dict[str, object]) -> np.ndarray:
    """``values`` at one point of the scanned axes: one number per replica."""
    return np.atleast_1d(values.sel(selection).values).astype(float)


def interval_text(values: tuple[float, float, float]) -> str:
    estimate, low, high = values
    return f"{estimate:.3g}" + (f" [{low:.3g}, {high:.3g}]" if np.isfinite(low) else " (no interval)")


@dataclass(frozen=True)
class TaskSteps:
    """One task: its grid selection, and per replica the predicted and measured steps to target."""

    label: str
    selection: dict[str, object]
    predicted: np.ndarray
    measured: np.ndarray

    @property
    def misprediction(self) -> tuple[float, float, float]:
        """T/T̂, measured over predicted, geometric mean over replicas with its interval."""
        return geometric_interval(self.measured / self.predicted)

    def text(self) -> str:
        reached = int(np.isfinite(self.measured).sum())
        return (f"{self.label}: predicted T̂ = {interval_text(geometric_interval(self.predicted))}, measured T = "
                f"{interval_text(geometric_interval(self.measured))} steps ({reached} of {self.measured.size} replicas "
                f"reached the target); T/T̂ = {interval_text(self.misprediction)}")


@dataclass(frozen=True)
class LabelComparison:
    """One labels value against the reference in one task: T_b/T_a per replica, predicted and measured."""

    label: str
    selection: dict[str, object]
    predicted: np.ndarray
    measured: np.ndarray

    def judge(self) -> Assessment:
        """The measured ratio's interval against 1, on the side the kernel's predicted ratio is on."""
        predicted = geometric_interval(self.predicted)
        if not np.isfinite(predicted[0]):
            return Assessment(Verdict.NOT_ENOUGH_RANGE, "the kernel predicts no steps to target (its prediction "
                                                        "diverges or never reaches the target)")
        estimate, low, high = geometric_interval(self.measured)
        if not np.isfinite(estimate):
            return Assessment(Verdict.NOT_ENOUGH_RANGE, "no replica reached the target in both trainings")
        allowed = "above" if predicted[0] > 1 else "below"
        verdict = interval_verdict(estimate, low, high, int(np.isfinite(self.measured).sum()), 1.0, allowed,
                                   "the measured ratio of steps to target")
        sure = ("" if np.isfinite(predicted[1]) and (predicted[1] > 1 or predicted[2] < 1) else
                "; the predicted interval itself contains 1: the kernel barely tells the two apart")
        return Assessment(verdict.verdict, f"{verdict.reason} (the kernel predicts {interval_text(predicted)}, "
                                           f"geometric means over replicas){sure}", verdict.measured)


@dataclass(frozen=True)
class TaskSpeeds:
    """Every task's steps, and each labels value's comparison with the reference in its task."""

    tasks: list[TaskSteps]
    comparisons: list[LabelComparison]


def task_speeds(view: StoreView) -> TaskSpeeds:
    """The steps of every task of the store, and the comparisons of its labels values."""
    predicted, measured = view.final(PREDICTED), view.final(MEASURED)
    others = [dim for dim in view.scanned if dim != LABELS_AXIS]
    labels = view.ds[LABELS_AXIS].values.tolist()
    tasks, comparisons = [], []
    for group in view.combinations(others):
        rows = {}
        for value in labels:
            selection = {**group, LABELS_AXIS: value}
            rows[value] = (replicas(predicted, selection), replicas(measured, selection))
            tasks.append(TaskSteps(view.label(selection), selection, *rows[value]))
        reference = labels[0]
        for value in labels[1:]:
            name = f"{view.label(group)}: {value} against {reference}" if group else f"{value} against {reference}"
            comparisons.append(LabelComparison(name, group, rows[value][0] / rows[reference][0],
                                               rows[value][1] / rows[reference][1]))
    return TaskSpeeds(tasks, comparisons)


class KernelOrdersTasks(Claim[TaskSpeeds]):
    """Steps to target with random labels over those with true ones: predicted by m·K_∞ from r_0, and measured."""

    name = "kernel_orders_tasks"
    title = "The infinite-width kernel predicts which labels train slower"
    paper_ref = "Definition 2.3, Theorem 1"
    statement = (f"GD on a wide network moves its residuals as GD on the linear model of its kernel m·K_∞ does, so "
                 f"the loss falls as Σ_k (1 − η λ_k)^(2t) (v_kᵀ r_0)²/2 and the projections of r_0 on K_∞'s "
                 f"eigenvectors decide how fast ({ARORA}: random labels lie along the small eigenvalues and train "
                 f"slower). The steps to target this predicts from the network's own r_0 order the labels as "
                 f"training does: the measured ratio T_random/T_true lies on the side of 1 the predicted one does.")
    needs = (PREDICTED, MEASURED)
    axes = (LABELS_AXIS,)
    figure = "kernel_tasks"
    figure_title = "Steps to target predicted by m·K_∞ from r_0 (Arora et al. 2019) against those measured"
    order = 116
    uses = ("kernel_complexity", "kernel_residual_complexity")
    columns = (Column("predicted steps to target", PREDICTED), Column("y^T (eta m K_inf)^-1 y/|y|^2", "kernel_complexity"))

    def fit(self, view: StoreView) -> TaskSpeeds:
        return task_speeds(view)

    def panel_count(self, view: StoreView, fitted: TaskSpeeds) -> int:
        return 2

    def draw(self, axes: list[Axes], view: StoreView, fitted: TaskSpeeds) -> None:
        scatter, ratios = axes
        for index, task in enumerate(fitted.tasks):
            scatter.scatter(task.predicted, task.measured, color=color(index), s=18, label=task.label)
        finite = np.concatenate([np.r_[t.predicted, t.measured] for t in fitted.tasks])
        finite = finite[np.isfinite(finite) & (finite > 0)]
        if finite.size:
            line = np.array([finite.min() / 1.2, finite.max() * 1.2])
            scatter.plot(line, line, color="0.4", linestyle=":", linewidth=1, label="measured = predicted")
        finish(scatter, "predicted steps to target T̂ (m·K_∞ from r_0)", "measured steps to target T",
               logx=True, logy=True)
        for position, comparison in enumerate(fitted.comparisons):
            for offset, (values, kind) in enumerate(((comparison.predicted, "predicted"),
                                                     (comparison.measured, "measured"))):
                estimate, low, high = geometric_interval(values)
                if np.isfinite(estimate):
                    errors = np.array([[estimate - low], [high - estimate]]) if np.isfinite(low) else None
                    ratios.errorbar(position + 0.15 * (2 * offset - 1), estimate, yerr=errors, fmt="o",
                                    color=color(offset), capsize=3, label=kind if position == 0 else None)
        ratios.axhline(1.0, color="0.4", linestyle=":", linewidth=1)
        ratios.set_xticks(range(len(fitted.comparisons)), [c.label.replace(": ", "\n") for c in fitted.comparisons],
                          fontsize=7)
        ratios.set_xlim(-0.5, len(fitted.comparisons) - 0.5)
        finish(ratios, "", "T ratio (geometric mean, 95% interval)", logy=True)

    def numbers(self, view: StoreView, fitted: TaskSpeeds) -> list[str]:
        lines = [task.text() for task in fitted.tasks]
        for variable, what in (("kernel_complexity", "yᵀ(η m K_∞)^(-1) y/‖y‖²"),
                               ("kernel_residual_complexity", "r_0ᵀ(η m K_∞)^(-1) r_0/‖r_0‖²")):
            if view.has(variable):
                values = view.final(variable)
                lines += [f"{task.label}: {what} = {interval_text(geometric_interval(replicas(values, task.selection)))} "
                          "steps" for task in fitted.tasks]
        return lines

    def notes(self, view: StoreView, fitted: TaskSpeeds) -> list[str]:
        return ["the replicas share their inputs and W0 across the labels values, so each ratio is taken within a "
                "replica; a replica that did not reach the target has no measured ratio"]

    def verdict(self, view: StoreView, fitted: TaskSpeeds) -> Assessment:
        return decide(fitted.comparisons, [(c.label, c.judge()) for c in fitted.comparisons])


class KernelTaskSteps(Claim[TaskSpeeds]):
    """Each task's loss against the loss m·K_∞ predicts from its r_0, and how far apart their steps to target are."""

    name = "kernel_task_steps"
    title = "How many steps the infinite-width kernel predicts, task by task"
    paper_ref = "Definition 2.3, Theorem 1"
    statement = ("With η = c/m, GD on a wide network follows GD on the linear model of m·K_∞ from its own r_0 "
                 "(Jacot et al. 2018; Lee et al. 2019): f(W_t) ≈ f_∞,t, and its steps to target T ≈ T̂, those of "
                 "f_∞,t. Neither paper bounds T/T̂ at a finite width: the ratio is described, not judged.")
    needs = (PREDICTED, MEASURED, "loss", "kernel_prediction_loss")
    axes = (LABELS_AXIS,)
    figure = "kernel_tasks_loss"
    figure_title = "Loss f(W_t)/f(W_0) (solid) against the loss m·K_∞ predicts from r_0 (dashed), by task"
    order = 117

    def fit(self, view: StoreView) -> TaskSpeeds:
        return task_speeds(view)

    def panel_count(self, view: StoreView, fitted: TaskSpeeds) -> int:
        return max(1, len(fitted.comparisons))

    def draw(self, axes: list[Axes], view: StoreView, fitted: TaskSpeeds) -> None:
        steps = view.ds["step"].values
        f0 = view.ds["loss"].isel(step=0)
        for ax, comparison in zip(axes, fitted.comparisons or [None]):
            group = comparison.selection if comparison else {}
            for index, value in enumerate(view.ds[LABELS_AXIS].values.tolist()):
                selection = {**group, LABELS_AXIS: value}
                for name, style in (("loss", "-"), ("kernel_prediction_loss", "--")):
                    ratio = (view.ds[name] / f0).sel(selection).dropna("step", how="all")
                    label = f"{value}" + (" (kernel)" if style == "--" else "")
                    median_band(ax, ratio["step"].values, view.replicas(ratio, "step"), label, color(index),
                                marker=None, linestyle=style)
            ax.set_title(view.label(group) if group else "", fontsize=9)
            ax.set_xlim(0, float(steps.max()))
            finish(ax, "step t", r"$f(W_t)/f(W_0)$, $f_{\infty,t}/f(W_0)$", logy=True)

    def numbers(self, view: StoreView, fitted: TaskSpeeds) -> list[str]:
        return [task.text() for task in fitted.tasks]

    def verdict(self, view: StoreView, fitted: TaskSpeeds) -> Assessment:
        per_replica = np.array([np.log(task.measured / task.predicted) for task in fitted.tasks])  # [tasks, replicas]
        with np.errstate(invalid="ignore"):
            pooled = np.nanmean(np.where(np.isfinite(per_replica), per_replica, np.nan), axis=0)
        estimate, low, high = geometric_interval(np.exp(pooled))
        if not np.isfinite(estimate):
            return Assessment(Verdict.NOT_ENOUGH_RANGE, "no training reached the target")
        spread = ", ".join(f"{task.label} {interval_text(task.misprediction)}" for task in fitted.tasks)
        return Assessment(Verdict.DESCRIPTIVE, f"measured over predicted steps to target T/T̂, geometric mean over the "
                          f"tasks and replicas: {interval_text((estimate, low, high))} (interval over replicas); by "
                          f"task: {spread}", (estimate, low, high))
