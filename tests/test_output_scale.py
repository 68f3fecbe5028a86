"""The output scale of every model (``output_scale``): GD on Chizat, Oyallon and Bach's objective
(1/α²)·½‖α (h(W) − h(W0)) − y‖², checked against that objective written as a plain loop and
differentiated by autograd; accepted by a model written before the option existed; exact in
ensembles; refused on minibatches."""
from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest
import torch
from pydantic import Field

from overparam import Forward, Model, ModelParams, Params, Problem, Weights
from overparam.engine import Elman, OutputScaled
from framework.execution.task import run_ensemble
from framework.planning.plan import plan_file
from model_cases import paper_ensemble
from scans import overparam, spread, write_pipeline


def centered_loss(W, W0, A, B, X, Y, alpha: float, centered: bool = True) -> torch.Tensor:
    """(1/α²)·Σ_i ½ Σ_{l>=2} ||α (B h_l(W) − B h_l(W0)) − y_l||² for one network, a loop over
    sequences and layers (§2.1's h_l = relu(W h_{l-1} + A x_l), h_0 = 0); uncentered, α B h_l(W)."""
    n, L, _ = X.shape
    total = torch.zeros((), dtype=W.dtype)
    for i in range(n):
        h, h0 = torch.zeros(W.shape[0], dtype=W.dtype), torch.zeros(W.shape[0], dtype=W.dtype)
        for layer in range(L):
            h, h0 = torch.relu(W @ h + A @ X[i, layer]), torch.relu(W0 @ h0 + A @ X[i, layer])
            if layer >= 1:
                output = B @ h - B @ h0 if centered else B @ h
                total = total + 0.5 * (alpha * output - Y[i, layer]).square().sum()
    return total / alpha**2


def reference(W, W0, A, B, X, Y, alpha: float,
              centered: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The objective, its gradient in W and each sequence's ||∇_W f_i||², by autograd of the loop."""
    leaf = W.detach().clone().requires_grad_(True)
    f = centered_loss(leaf, W0, A, B, X, Y, alpha, centered)
    (gradient,) = torch.autograd.grad(f, leaf)
    per_sequence = []
    for i in range(X.shape[0]):
        (g,) = torch.autograd.grad(centered_loss(leaf, W0, A, B, X[i : i + 1], Y[i : i + 1], alpha, centered), leaf)
        per_sequence.append(g.square().sum())
    return f.detach(), gradient, torch.stack(per_sequence)


def moved(weights: Weights, seed: int) -> Weights:
    g = torch.Generator().manual_seed(seed)
    return weights.replace(W=weights.W + 0.05 * torch.randn(weights.W.shape, generator=g, dtype=weights.W.dtype)
                           / weights.W.shape[-1] ** 0.5)


@pytest.mark.parametrize("centered", [True, False])
@pytest.mark.parametrize("alpha", [0.25, 1.0, 8.0])
def test_the_scaled_network_is_the_scaled_objective_and_its_gradient(alpha, centered):
    initial, problem = paper_ensemble(Elman(), K=2, n=3, L=4, m=24, d_x=5, d=2, seed=11)
    network = OutputScaled(Elman(), alpha, centered).around(initial, problem)
    weights = moved(initial, 5)
    state = network.forward(weights, problem)
    gradient, norms = network.gradient_and_sequence_norms(weights, problem, ("W",), state)
    plain = network.gradient(weights, problem, ("W",))
    for k in range(2):
        f, g, per_sequence = reference(weights.W[k], initial.W[k], initial.A[k], initial.B[k], problem.X[k],
                                       problem.Y[k], alpha, centered)
        torch.testing.assert_close(state.loss[k], f, rtol=1e-12, atol=0)
        torch.testing.assert_close(gradient["W"][k], g, rtol=1e-10, atol=1e-13)
        torch.testing.assert_close(plain["W"][k], g, rtol=1e-10, atol=1e-13)
        torch.testing.assert_close(norms[k], per_sequence, rtol=1e-10, atol=1e-15)
    if centered:
        at_start = network.forward(initial, problem)
        targets = problem.Y[:, :, 1:]  # the scored outputs l >= 2
        torch.testing.assert_close(at_start.loss, 0.5 * targets.square().sum(dim=(1, 2, 3)) / alpha**2, rtol=1e-12,
                                   atol=0)


def test_the_scale_leaves_the_jacobian_the_models():
    initial, problem = paper_ensemble(Elman(), K=2, n=3, L=4, m=24, d_x=5, d=2, seed=3)
    weights = moved(initial, 1)
    direction = {"W": torch.randn(initial.W.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)}
    scaled = OutputScaled(Elman(), 3.0).around(initial, problem)
    torch.testing.assert_close(scaled.tangent(weights, problem, direction), Elman().tangent(weights, problem, direction),
                               rtol=1e-12, atol=1e-14)


class PlainParams(Params):
    """A schema that predates the option: it derives from ``Params`` alone."""

    gain: float = Field(1.0, description="a factor on the read-out")


class PlainElman(Model):
    """The Elman network written plainly, one forward pass and nothing else: autograd does the rest."""

    name: ClassVar[str] = "plain_elman"
    Params: ClassVar[type[Params]] = PlainParams
    dims = Elman.dims

    def forward(self, weights: Weights, problem: Problem) -> Forward:
        W, A, B = weights.W, weights.A, weights.B
        h = torch.zeros(problem.K, problem.X.shape[1], W.shape[-1], dtype=W.dtype)
        gs, hs, outputs = [], [], []
        for layer in range(problem.X.shape[2]):
            g = h @ W.mT + problem.X[:, :, layer] @ A.mT
            h = torch.relu(g)
            gs.append(g)
            hs.append(h)
            outputs.append(self.params.gain * h @ B.mT - problem.Y[:, :, layer])
        residual = torch.stack(outputs, dim=1)
        residual = torch.cat([torch.zeros_like(residual[:, :1]), residual[:, 1:]], dim=1)
        return Forward(torch.stack(gs), torch.stack(hs), residual)


def test_a_model_written_before_the_option_takes_it_and_its_autograd_defaults_honour_it():
    assert issubclass(PlainElman.Params, ModelParams) and issubclass(PlainElman.Params, PlainParams)
    params = PlainElman.parse_params({"gain": 1.0, "output_scale": 4.0})
    assert params.output_scale == 4.0
    with pytest.raises(Exception, match="greater than 0"):
        PlainElman.parse_params({"output_scale": 0})
    initial, problem = paper_ensemble(Elman(), K=2, n=3, L=4, m=16, d_x=5, d=2, seed=7)
    weights = moved(initial, 9)
    plain = OutputScaled(PlainElman(params), 4.0).around(initial, problem)
    gradient, norms = plain.gradient_and_sequence_norms(weights, problem, ("W",))
    for k in range(2):
        f, g, per_sequence = reference(weights.W[k], initial.W[k], initial.A[k], initial.B[k], problem.X[k],
                                       problem.Y[k], 4.0)
        torch.testing.assert_close(plain.loss(weights, problem)[k], f, rtol=1e-12, atol=0)
        torch.testing.assert_close(gradient["W"][k], g, rtol=1e-10, atol=1e-13)
        torch.testing.assert_close(norms[k], per_sequence, rtol=1e-10, atol=1e-15)


SCALED = """\
name: scaled
dtype: float64
grid:
  alpha: [0.5, 8.0]
  m: [20, 36]
  seed: 2
stages:
  net: {{plugin: elman, params: {{output_scale: "${{grid.alpha}}"}}}}
  data: {{plugin: separable, params: {{n: 5, L: 4, d_x: 4, d: 2, delta: 0.3}}}}
  init: {{plugin: paper, params: {{m: "${{grid.m}}"}}, needs: [net]}}
  train: {{plugin: {optimizer}, params: {{steps: 30, lr: 0.05/m}}, needs: [data, init]}}
  diagnose:
    plugins: [loss, pl_ratio, weight_distance, kernel_drift, dprime_sparsity, linearization_gap]
    schedule: {{log: 4}}
    needs: [train]
"""


def test_a_scaled_member_of_an_ensemble_gives_bit_for_bit_what_it_gives_alone(tmp_path):
    plan = plan_file(write_pipeline(tmp_path, SCALED.format(optimizer="gd")))
    jobs = list(plan.jobs)
    together = run_ensemble(jobs, plan.layout)
    assert all(r.status == "done" for r in together), [r.error for r in together]
    for job, packed in spread(list(zip(jobs, together))):
        alone = run_ensemble([job], plan.layout)[0]
        for name in alone.values:
            assert np.array_equal(packed.values[name], alone.values[name], equal_nan=True), (job.point.label(), name)
    # centered at W0: the loss starts at ||y||²/(2α²), the same data's at either α, and the linearized twin's gap at 0
    start = {}
    for job, result in zip(jobs, together):
        values = job.point.values
        start.setdefault((values["m"], values["seed"]), []).append(float(result.values["loss"][0]) * values["alpha"] ** 2)
        assert abs(float(result.values["twin_prediction_gap"][0])) < 1e-12
    for scaled_back in start.values():
        assert scaled_back[0] == pytest.approx(scaled_back[1], rel=1e-12)


def test_the_scale_on_minibatches_is_refused_naming_the_file_key_and_what_to_do(tmp_path):
    pipeline = write_pipeline(tmp_path, SCALED.format(optimizer="sgd"))
    refused = overparam("validate", str(pipeline))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "pipeline.yaml" in refused.stderr and "stages.train.plugin" in refused.stderr
    assert "optimizer 'sgd' steps on minibatches" in refused.stderr and "train it full-batch" in refused.stderr


def test_a_minibatch_the_anchored_network_was_not_made_for_is_refused():
    """An optimizer that does not declare itself minibatch still cannot train on other sequences."""
    initial, problem = paper_ensemble(Elman(), K=2, n=4, L=3, m=8, d_x=3, d=2, seed=1)
    network = OutputScaled(Elman(), 2.0).around(initial, problem)
    batch = problem.sequences(torch.tensor([[0, 2], [1, 3]]))
    with pytest.raises(ValueError, match="full-batch only"):
        network.gradient(initial, batch, ("W",))


def test_without_the_option_a_job_trains_the_model_itself(tmp_path):
    text = SCALED.format(optimizer="gd").replace(', params: {output_scale: "${grid.alpha}"}', "")
    assert "output_scale" not in text
    plan = plan_file(write_pipeline(tmp_path, text.replace("alpha: [0.5, 8.0]", "alpha: [1]")))
    job = next(iter(plan.jobs))
    assert type(job.network()).__name__ == "ElmanModel"


def test_the_uncentered_network_at_scale_one_is_the_model_bit_for_bit(tmp_path):
    """The paper's own network is the point α = 1, uncentered, of the scale's axis: every value equal."""
    paper = plan_file(write_pipeline(tmp_path, SCALED.format(optimizer="gd").replace(
        ', params: {output_scale: "${grid.alpha}"}', "").replace("alpha: [0.5, 8.0]", "alpha: [1.0]"), "paper.yaml"))
    uncentered = plan_file(write_pipeline(tmp_path, SCALED.format(optimizer="gd").replace(
        '{output_scale: "${grid.alpha}"}', '{output_scale: "${grid.alpha}", output_centered: false}').replace(
        "alpha: [0.5, 8.0]", "alpha: [1.0]"), "uncentered.yaml"))
    own, scaled = run_ensemble(list(paper.jobs), paper.layout), run_ensemble(list(uncentered.jobs), uncentered.layout)
    assert [type(job.network()).__name__ for job in uncentered.jobs][0] == "OutputScaled"
    for a, b in zip(own, scaled):
        assert a.values.keys() == b.values.keys()
        for name in a.values:
            assert np.array_equal(a.values[name], b.values[name], equal_nan=True), name


def test_the_autograd_defaults_given_the_models_own_forward_pass_compute_what_they_compute_without_it():
    """Without an output scale nothing shifts the residuals: a model that leaves its gradient and
    per-sequence norms to autograd gets, bit for bit, the same from its own forward pass passed as
    ``state`` as from none (the defaults now differentiate the state's residuals)."""
    initial, problem = paper_ensemble(Elman(), K=2, n=3, L=4, m=16, d_x=5, d=2, seed=4)
    plain = PlainElman(PlainElman.parse_params({}))
    weights = moved(initial, 2)
    state = plain.forward(weights, problem)
    assert torch.equal(plain.gradient(weights, problem, ("W",), state)["W"], plain.gradient(weights, problem, ("W",))["W"])
    assert torch.equal(plain.sequence_gradient_norms(weights, problem, ("W",), state),
                       plain.sequence_gradient_norms(weights, problem, ("W",)))
