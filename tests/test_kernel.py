"""The tangent kernel K = J Jᵀ (Theorem 3's λ_min, Theorem 4's linear regime): the assembled matrix
and the matrix-free Lanczos ends against the autograd Jacobian of a plainly written network, in
float64; the identities that tie it to the PL ratio; the drift's invariants; a pipeline run."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from overparam import Probe
from overparam.engine import Elman, TangentKernel, extreme_eigenvalues
from plugins.diagnostics import KernelDrift, KernelSpectrum, PLRatio
from plugins.feedforward import Feedforward, FeedforwardParams
from plugins.stacked_elman import StackedElman, StackedParams
from model_cases import close, paper_ensemble
from reference import jacobian_kernel
from scans import write_pipeline
from test_feedforward import PlainFeedforward
from test_stacked_elman import PlainStackedElman


def reference_kernels(weights, problem) -> list[torch.Tensor]:
    """Each member's J Jᵀ from the plain loop of tests/reference.py, J in W."""
    return [jacobian_kernel(weights.W[k], weights.A[k], weights.B[k], problem.X[k]) for k in range(weights.K)]


def autograd_kernels(plain, weights, problem, outputs) -> list[torch.Tensor]:
    """Each member's J Jᵀ, J by reverse-mode autograd of ``plain``'s forward pass in W."""
    kernels = []
    for k in range(weights.K):
        member, one = weights.member(k), problem.member(k)

        def scored(W, member=member, one=one):
            return plain.forward(member.replace(W=W.unsqueeze(0)), one).residual_members[0, outputs]

        J = torch.func.jacrev(scored)(weights.W[k]).reshape(-1, weights.W[k].numel())
        kernels.append(J @ J.T)
    return kernels


def moved(weights, scale: float, seed: int):
    """The weights with W moved by a random matrix of spectral size about ``scale``."""
    g = torch.Generator().manual_seed(seed)
    step = torch.randn(weights.W.shape, generator=g, dtype=torch.float64) * scale / weights.m ** 0.5
    return weights.replace(W=weights.W + step)


@settings(max_examples=30, deadline=None)
@given(K=st.integers(1, 3), n=st.integers(1, 4), L=st.integers(2, 5), m=st.integers(1, 12), d_x=st.integers(1, 4),
       d=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_assembled_kernel_is_the_gram_matrix_of_the_autograd_jacobian(K, n, L, m, d_x, d, seed):
    weights, problem = paper_ensemble(Elman(), K, n, L, m, d_x, d, seed)
    weights = moved(weights, 0.5, seed)
    kernel = TangentKernel(Elman(), weights, problem, ["W"])
    assert kernel.size == (L - 1) * n * d
    for ours, theirs in zip(kernel.matrix(), reference_kernels(weights, problem)):
        close(ours, theirs)


@pytest.mark.parametrize("case", ["feedforward", "stacked_elman"])
def test_other_models_kernels_equal_autograd_on_their_plain_forward_passes(case):
    if case == "feedforward":
        network, plain, L = Feedforward(FeedforwardParams(depth=3)), PlainFeedforward(), 1
    else:
        network, plain, L = StackedElman(StackedParams(stack=2)), PlainStackedElman(), 4
    weights, problem = paper_ensemble(network, 2, 4, L, 10, 3, 2, seed=5)
    kernel = TangentKernel(network, weights, problem, ["W"])
    outputs = list(network.loss_outputs(network.forward(weights, problem).residual_members.shape[1]))
    assert kernel.size == len(outputs) * 4 * 2
    for ours, theirs in zip(kernel.matrix(), autograd_kernels(plain, weights, problem, outputs)):
        close(ours, theirs)


@pytest.mark.parametrize("method", ["dense", "lanczos"])
def test_kernel_spectrum_is_the_extreme_eigenvalues_of_the_autograd_kernel_over_m(method):
    weights, problem = paper_ensemble(Elman(), 3, n=4, L=4, m=24, d_x=4, d=2, seed=7)
    weights = moved(weights, 1.0, 8)
    probe = Probe(weights, weights, problem, network=Elman(), seed=[1, 2, 3])
    params = KernelSpectrum.Params(method=method, tol=1e-13, iterations=1000)
    out = KernelSpectrum().measure(params, probe)
    for k, reference in enumerate(reference_kernels(weights, problem)):
        values = torch.linalg.eigvalsh(reference)
        assert float(out["kernel_min"][k]) * 24 == pytest.approx(float(values[0]), rel=1e-9)
        assert float(out["kernel_max"][k]) * 24 == pytest.approx(float(values[-1]), rel=1e-12)
        assert float(out["kernel_condition"][k]) == pytest.approx(float(values[-1] / values[0]), rel=1e-9)
        assert float(out["kernel_error"][k]) < 1e-8


def test_lanczos_stops_early_at_a_loose_tolerance_and_its_error_bound_holds():
    weights, problem = paper_ensemble(Elman(), 2, n=8, L=6, m=64, d_x=4, d=3, seed=3)  # N = 120
    probe = Probe(weights, weights, problem, network=Elman(), seed=[4, 5])
    kernel = probe.kernel
    products = []

    def counted(v):
        products.append(1)
        return kernel.apply(v)

    start = torch.randn(2, kernel.size, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    found = extreme_eigenvalues(counted, start, 500, 1e-4, [torch.Generator().manual_seed(k) for k in range(2)])
    assert len(products) < kernel.size
    for k, reference in enumerate(reference_kernels(weights, problem)):
        values = torch.linalg.eigvalsh(reference)
        low_error = abs(float(found.low[k] - values[0])) / float(values[0])
        high_error = abs(float(found.high[k] - values[-1])) / float(values[-1])
        assert found.low[k] >= values[0] * (1 - 1e-12) and found.high[k] <= values[-1] * (1 + 1e-12)  # Ritz values
        assert low_error <= float(found.low_error[k]) * (1 + 1e-6) + 1e-12 and float(found.low_error[k]) <= 1e-4
        assert high_error <= float(found.high_error[k]) * (1 + 1e-6) + 1e-12 and float(found.high_error[k]) <= 1e-4


@pytest.mark.parametrize("rank", [1, 3, 7])
def test_extreme_eigenvalues_of_explicit_matrices_of_every_rank(rank):
    g = torch.Generator().manual_seed(rank)
    factors = torch.randn(3, 7, rank, generator=g, dtype=torch.float64)
    matrices = factors @ factors.mT - 0.5 * torch.eye(7, dtype=torch.float64)  # indefinite once rank < 7
    start = torch.randn(3, 7, generator=g, dtype=torch.float64)
    found = extreme_eigenvalues(lambda v: (matrices @ v.unsqueeze(-1)).squeeze(-1), start, 50, 0.0,
                                [torch.Generator().manual_seed(k) for k in range(3)])
    values = torch.linalg.eigvalsh(matrices)
    torch.testing.assert_close(found.low, values[:, 0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(found.high, values[:, -1], rtol=1e-12, atol=1e-12)


def test_a_member_of_an_ensemble_finds_what_it_finds_alone_on_the_matrix_free_path():
    weights, problem = paper_ensemble(Elman(), 3, n=8, L=4, m=16, d_x=4, d=2, seed=11)
    params = KernelSpectrum.Params(method="lanczos", tol=1e-8, iterations=30)
    together = KernelSpectrum().measure(params, Probe(weights, weights, problem, network=Elman(), seed=[7, 8, 9]))
    for k, seed in enumerate([7, 8, 9]):
        member = weights.member(k)
        alone = KernelSpectrum().measure(params, Probe(member, member, problem.member(k), network=Elman(), seed=seed))
        for name, value in alone.items():
            assert torch.equal(value[0], together[name][k]), name


def test_the_pl_ratio_lies_between_twice_the_kernels_extreme_eigenvalues_over_m():
    # ||∇f||² = rᵀ K r and f = ½||r||², so ||∇f||²/(m f) is 2/m times a Rayleigh quotient of K
    weights, problem = paper_ensemble(Elman(), 3, n=6, L=5, m=32, d_x=4, d=2, seed=2)
    for scale in (0.0, 0.5, 2.0):
        probe = Probe(moved(weights, scale, 1), weights, problem, network=Elman())
        ratio = PLRatio().measure(PLRatio.Params(), probe)["pl_ratio"]
        spectrum = KernelSpectrum().measure(KernelSpectrum.Params(), probe)
        assert torch.all(ratio >= 2 * spectrum["kernel_min"] * (1 - 1e-12))
        assert torch.all(ratio <= 2 * spectrum["kernel_max"] * (1 + 1e-12))


def test_kernel_drift_is_zero_at_initialization_and_the_frobenius_change_of_the_autograd_kernels():
    weights, problem = paper_ensemble(Elman(), 2, n=4, L=4, m=20, d_x=3, d=2, seed=4)
    at_start = KernelDrift().measure(KernelDrift.Params(), Probe(weights, weights, problem, network=Elman()))
    assert torch.equal(at_start["kernel_drift"], torch.zeros(2, dtype=torch.float64))
    torch.testing.assert_close(at_start["kernel_alignment"], torch.ones(2, dtype=torch.float64), rtol=1e-14, atol=0)
    later = moved(weights, 1.0, 9)
    out = KernelDrift().measure(KernelDrift.Params(), Probe(later, weights, problem, network=Elman()))
    for k, (now, start) in enumerate(zip(reference_kernels(later, problem), reference_kernels(weights, problem))):
        assert float(out["kernel_drift"][k]) == pytest.approx(float((now - start).norm() / start.norm()), rel=1e-10)
        cosine = (now * start).sum() / (now.norm() * start.norm())
        assert float(out["kernel_alignment"][k]) == pytest.approx(float(cosine), rel=1e-12)


def test_a_rescaled_kernel_keeps_its_alignment():
    # the residuals are linear in B: B -> cB scales J in W by c and K by c², shape unchanged
    weights, problem = paper_ensemble(Elman(), 2, n=4, L=3, m=16, d_x=3, d=2, seed=6)
    c = 1.7
    out = KernelDrift().measure(KernelDrift.Params(),
                                Probe(weights.replace(B=c * weights.B), weights, problem, network=Elman()))
    torch.testing.assert_close(out["kernel_drift"], torch.full((2,), c * c - 1, dtype=torch.float64), rtol=1e-12,
                               atol=0)
    torch.testing.assert_close(out["kernel_alignment"], torch.ones(2, dtype=torch.float64), rtol=1e-12, atol=0)


def test_the_initial_kernel_is_assembled_once_per_training():
    weights, problem = paper_ensemble(Elman(), 1, n=4, L=3, m=16, d_x=3, d=2, seed=1)
    shared: dict = {}
    counts = []
    for step, scale in enumerate((0.0, 0.3, 0.6)):
        probe = Probe(moved(weights, scale, step), weights, problem, network=Elman(), step=step, initial_cache=shared)
        KernelDrift().measure(KernelDrift.Params(), probe)
        counts.append((probe.computations["kernel_matrix0"], probe.computations["kernel_matrix"]))
    assert counts == [(1, 1), (0, 1), (0, 1)]


PIPELINE = """\
name: kernel-small
grid:
  m: [16, 32]
stages:
  data: {plugin: separable, params: {n: 4, L: 4, d_x: 4, d: 2, delta: 0.3}}
  init: {plugin: paper, params: {m: "${grid.m}"}}
  train: {plugin: gd, params: {steps: 40, lr: 0.05/m}, needs: [data, init]}
  diagnose: {plugins: [loss, pl_ratio, kernel_spectrum, kernel_drift], schedule: {at: [0, 20, 40]}, needs: [train]}
store: kernel.zarr
"""


def test_a_pipeline_stores_the_kernel_of_its_initial_weights_and_its_drift(tmp_path: Path):
    from framework.execution.task import run_ensemble
    from framework.planning.plan import plan_file


    plan = plan_file(write_pipeline(tmp_path, PIPELINE))
    jobs = list(plan.jobs)
    for job, result in zip(jobs, run_ensemble(jobs, plan.layout)):
        assert result.status == "done", result.error
        problem = job.data.component().generate(job.data.params, job.data.seed)
        weights = job.init.component().initialize(job.init.params, job.weight_layout(), job.init.seed)
        values = torch.linalg.eigvalsh(reference_kernels(weights, problem)[0])
        m = weights.m
        assert result.values["kernel_min"][0] * m == pytest.approx(float(values[0]), rel=1e-9)
        assert result.values["kernel_max"][0] * m == pytest.approx(float(values[-1]), rel=1e-12)
        assert result.values["kernel_drift"][0] == 0 and result.values["kernel_drift"][-1] > 0
        assert result.values["kernel_alignment"][-1] < 1
        assert (result.values["pl_ratio"] >= 2 * result.values["kernel_min"] * (1 - 1e-12)).all()
