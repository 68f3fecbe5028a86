"""``steps_to_target`` (rate, Theorems 1-2): the first step at which f falls to ``target``·f(W0),
read from every step's f where training computes it, not only from the logged steps."""
from __future__ import annotations

import numpy as np

from framework.execution.task import WORKER_DATA, initial_weights, run_ensemble
from framework.planning.plan import plan_file
from reference import autograd_gradient, loop_loss
from scans import write_pipeline

PIPELINE = """\
name: exact-steps
grid:
  seed: 1
stages:
  data: {{plugin: separable, params: {{n: 4, L: 4, d_x: 4, d: 2, delta: 0.3}}}}
  init: {{plugin: paper, params: {{m: 12}}}}
  train: {{plugin: {optimizer}, params: {{steps: 160, lr: 0.02}}, needs: [data, init]}}
  diagnose: {{plugins: [loss], schedule: {{log: 5}}, needs: [train]}}
  summary: {{plugins: [{{rate: {{target: {target}}}}}], needs: [train]}}
store: s.zarr
"""
STEP = 77  # the step whose f sets the target: between two logged steps of log: 5 over 160


def plan(tmp_path, optimizer: str, target: float):
    return plan_file(write_pipeline(tmp_path, PIPELINE.format(optimizer=optimizer, target=repr(target)),
                                    f"{optimizer}-{target!r}.yaml"))


def gd_losses_by_autograd(job) -> list[float]:
    """f at every step of full-batch GD on W alone, each step's gradient by autograd of the
    loop loss of §2.2 (one sequence and layer at a time)."""
    weights = initial_weights([job])
    problem = WORKER_DATA.get(job.data)
    W, A, B, X, Y = weights.W[0], weights.A[0], weights.B[0], problem.X[0], problem.Y[0]
    lr = job.trainings[0].call.params.lr
    losses = []
    for t in range(job.trainings[0].call.params.steps + 1):
        losses.append(float(loop_loss(W, A, B, X, Y)))
        W = W - lr * autograd_gradient(W, A, B, X, Y)["W"]
    return losses


def test_gd_steps_to_target_is_the_first_step_under_the_target_not_the_first_logged_one(tmp_path):
    probe_plan = plan(tmp_path, "gd", 0.5)
    job = next(iter(probe_plan.jobs))
    losses = gd_losses_by_autograd(job)
    target = losses[STEP] / losses[0]
    expected = next(t for t, f in enumerate(losses) if f <= target * losses[0] * (1 + 1e-12))
    logged = probe_plan.layout.steps
    assert expected not in logged, "the target must fall between two logged steps"
    exact = plan(tmp_path, "gd", target * (1 + 1e-12))
    (result,) = run_ensemble(list(exact.jobs), exact.layout)
    assert result.status == "done"
    assert float(result.values["steps_to_target"]) == expected
    first_logged = min(t for t in logged if t >= expected)
    assert first_logged > expected  # what reading the logged steps alone said


def test_sgd_never_computes_f_between_logged_steps_so_its_steps_to_target_is_a_logged_one(tmp_path):
    sgd = plan(tmp_path, "sgd", 0.5)
    (result,) = run_ensemble(list(sgd.jobs), sgd.layout)
    steps = np.asarray(sgd.layout.steps)
    loss = result.values["loss"]
    measured = ~np.isnan(loss)
    under = steps[measured][loss[measured] <= 0.5 * loss[measured][0]]
    assert under.size, "SGD must reach half its initial f within the run"
    assert float(result.values["steps_to_target"]) == under[0]
