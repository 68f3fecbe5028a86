"""The tangent kernel of the paper's Elman network as m → ∞, at its initialization (Definition 2.3),
with W trained; how far a network of width m is from it; and what it predicts of training.

The kernel of ``kernel_spectrum`` is K = J Jᵀ, J the Jacobian in W of the outputs y_{i,l} = B h_{i,l},
l >= 2 (§2.2). With ∂y_{i,l,c}/∂W = Σ_{a<=l} b^{i,l,c}_a h_{i,a-1}ᵀ, where b_l = D_{i,l} B_cᵀ and
b_a = D_{i,a} Wᵀ b_{a+1} (Fact 2.5),

    K_{(l,i,c),(l',j,c')} = Σ_{a<=l, a'<=l'} <b^{i,l,c}_a, b^{j,l',c'}_{a'}> <h_{i,a-1}, h_{j,a'-1}>.

**Forward correlations.** With W, A ~ N(0, 2/m) and unit inputs, the pre-activations g_{i,a} = W h_{i,a-1}
+ A x_{i,a} have coordinates that are, as m → ∞, jointly Gaussian across (i, a), with covariance q/m:

    q_{(i,a),(j,b)} = 2 (Σ_{(i,a-1),(j,b-1)} + <x_{i,a}, x_{j,b}>),   Σ_{(i,a),(j,b)} = κ1(q) = lim <h_{i,a}, h_{j,b}>,

Σ = 0 where a layer is 0 (h_0 = 0), κ1 the arc-cosine kernel of degree 1 (E relu(u) relu(v) =
sqrt(q11 q22)/(2π) (sin θ + (π - θ) cos θ), cos θ = q12/sqrt(q11 q22)). This holds with the one W
shared by every layer: the tensor-program limit of a recurrent network's forward pass (Yang, "Wide
feedforward or recurrent neural networks of any architecture are Gaussian processes", 2019).

**Backward factors.** The assumption: the gradient independence assumption, Wᵀ in the backward pass
taken as independent of the W of the forward pass. Yang ("Tensor Programs II", 2020) proves that it
gives the exact limit of the tangent kernel when the read-out B is drawn independently with mean
zero and used nowhere else, as Definition 2.3 draws it (B ~ N(0, 1/d)). Then
<b_a, b'_{a'}>/m → 0 unless l - a = l' - a' (a chain of Wᵀ of one length against a different
one averages out), δ_{cc'}/d · κ0(q_{l,l'}) at a = l, and each step back multiplies by
2 κ0(q_{a,a'}), κ0 the arc-cosine kernel of degree 0 ((π - θ)/(2π) = P(u >= 0, v >= 0)). Summing,

    K_{(l,i,c),(l',j,c')} / m → δ_{cc'}/d · G_{(i,l),(j,l')},   G_{a,b} = κ0(q_{a,b}) (Σ_{a-1,b-1} + 2 G_{a-1,b-1}),

G = 0 where a layer is 0. Nothing else is approximated; the recursion is checked against the
average of K/m over many independent initializations at large m (tests/test_kernel_limit.py).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar, Literal

import torch
from pydantic import Field

from overparam import Diagnostic, Output, Params, Probe
from overparam.engine import member_sum
from plugins.diagnostics.linearization import against_linear_gd, replayed_step_size

if TYPE_CHECKING:
    from torch import Tensor

WEIGHT_VARIANCE = 2.0  # m times the variance of the entries of W and A (Definition 2.3)
LIMIT_EIGENVECTORS = "kernel_prediction: eigendecomposition of m K_∞"  # the key of Probe.once_per_training


def _angles(q: Tensor) -> tuple[Tensor, Tensor]:
    """θ of each pair of a covariance ``q [..., N, N]`` and sqrt(q_aa q_bb)."""
    scale = torch.sqrt(torch.diagonal(q, dim1=-2, dim2=-1).clamp_min(0))
    norms = scale.unsqueeze(-1) * scale.unsqueeze(-2)
    cosine = torch.where(norms > 0, q / norms.clamp_min(torch.finfo(q.dtype).tiny), torch.zeros_like(q))
    return torch.arccos(cosine.clamp(-1, 1)), norms


def arc_cosine_1(q: Tensor) -> Tensor:
    """E relu(u) relu(v) for (u, v) ~ N(0, [[q_aa, q_ab], [q_ab, q_bb]]), every pair of ``q [..., N, N]``."""
    theta, norms = _angles(q)
    return norms / (2 * math.pi) * (torch.sin(theta) + (math.pi - theta) * torch.cos(theta))


def arc_cosine_0(q: Tensor) -> Tensor:
    """P(u >= 0, v >= 0) = E 1[u >= 0] 1[v >= 0] for the same pairs: (π - θ)/(2π)."""
    theta, _ = _angles(q)
    return (math.pi - theta) / (2 * math.pi)


def _previous_layer(matrix: Tensor, n: int) -> Tensor:
    """``matrix`` over states ordered layer-major ((a, i) at a·n + i) moved one layer on in both
    indices: entry ((a, i), (b, j)) becomes the old ((a-1, i), (b-1, j)), 0 at layer a = 0 or b = 0."""
    shifted = torch.zeros_like(matrix)
    shifted[..., n:, n:] = matrix[..., :-n, :-n]
    return shifted


def limit_kernel(X: Tensor, d: int) -> Tensor:
    """lim K/m of the Elman network at Definition 2.3's initialization, J in W, ``[K, N, N]``.

    ``X [K, n, L, d_x]`` are the inputs; rows and columns are ordered as ``overparam.engine.TangentKernel``
    orders them (outputs l = 2..L, then sequences, then the d coordinates). The recursion of the
    module docstring, over all (i, a) states at once: L passes of each recursion, the k-th making
    every pair with min(a, b) <= k exact.
    """
    K, n, L, _ = X.shape
    states = X.transpose(1, 2).reshape(K, L * n, -1)  # (a, i) at a·n + i
    inputs = states @ states.mT
    hidden = torch.zeros_like(inputs)
    for _ in range(L):
        q = WEIGHT_VARIANCE * (_previous_layer(hidden, n) + inputs)
        hidden = arc_cosine_1(q)
    q = WEIGHT_VARIANCE * (_previous_layer(hidden, n) + inputs)
    gate, before = arc_cosine_0(q), _previous_layer(hidden, n)
    G = torch.zeros_like(inputs)
    for _ in range(L):
        G = gate * (before + 2 * _previous_layer(G, n))
    outputs = G[:, n:, n:]  # layers 2..L
    return torch.kron(outputs, torch.eye(d, dtype=X.dtype, device=X.device)) / d


class KernelDeviation(Diagnostic):
    """How far the tangent kernel at initialization is from its infinite-width limit: ||K/m - K_∞||_F / ||K_∞||_F.

    K_∞ is ``limit_kernel``'s recursion for the Elman network drawn as Definition 2.3 draws it
    (the ``paper`` initializer; another initializer has another limit), J in W. The
    central-limit rate would make the deviation shrink as m^(-1/2). Measured once, at W0, from
    the kernel ``kernel_drift`` also reads (assembled once per training).
    """

    name: ClassVar[str] = "kernel_deviation"
    when = "init"
    needs = frozenset({"recurrent", "sequence"})
    outputs: ClassVar[dict[str, Output]] = {
        "kernel_deviation": Output(long_name="||K_0/m - K_∞||_F / ||K_∞||_F, K = J Jᵀ in W, K_∞ its m → ∞ limit",
                                   paper_ref="Definition 2.3, Theorem 3"),
    }

    def measure(self, params: Params, probe: Probe) -> dict[str, Tensor]:
        limit = limit_kernel(probe.problem.X[:, : probe.problem.n], probe.problem.d)
        difference = probe.kernel_matrix0 / probe.m - limit.to(probe.kernel_matrix0.dtype)
        return {"kernel_deviation": member_sum(difference.square()).sqrt() / member_sum(limit.square()).sqrt()}


class PredictionParams(Params):
    kernel: Literal["limit", "initial"] = Field(
        "limit", description="limit: m·K_∞, the infinite-width kernel of Definition 2.3's initialization; initial: "
                             "the network's own K_0 (the prediction is then linearization_gap's twin)")


def predicting_kernel(kernel: Literal["limit", "initial"], probe: Probe) -> tuple[Tensor, Tensor]:
    """The eigenvalues ``[K, N]`` (ascending) and eigenvectors ``[K, N, N]`` of the kernel a
    prediction of GD uses: m·K_∞ (``limit``) or the network's own K_0 (``initial``), each
    decomposed once per training, whichever diagnostic asks first (``kernel_prediction``,
    ``kernel_speed``)."""
    if kernel == "initial":
        return probe.kernel_eigenvectors0

    def decomposed() -> tuple[Tensor, Tensor]:
        limit = limit_kernel(probe.problem.X[:, : probe.problem.n], probe.problem.d)
        return torch.linalg.eigh(probe.m * limit.to(probe.problem.X.dtype))

    return probe.once_per_training(LIMIT_EIGENVECTORS, decomposed)


class KernelPrediction(Diagnostic):
    """Training against what the infinite-width kernel predicts of it: r_∞,t = (I − η m K_∞)^t r_0.

    As m → ∞ with η = c/m, K_0/m → K_∞ (``limit_kernel``) and a wide network trains as its
    linearization (Jacot et al. 2018; Lee et al. 2019, "Wide neural networks of any depth evolve
    as linear models under gradient descent"): its residuals would follow (I − c K_∞)^t r_0 from
    its own r_0 = r(W0). ``kernel_prediction_loss`` is that prediction's loss ½‖r_∞,t‖²,
    ``kernel_prediction_loss_gap`` = |f(W_t) − f_∞,t| / f(W0) and ``kernel_prediction_gap`` =
    ‖r_t − r_∞,t‖ / ‖r_0‖, for trainings by full-batch GD of W (``gd``, whose step size it
    takes), on the Elman network drawn as Definition 2.3 draws it (``paper``). K_∞'s
    eigendecomposition is computed once per training. ``kernel: initial`` puts K_0 in place of
    m·K_∞: then the prediction is the linearized twin of ``linearization_gap`` (its ``twin_loss``),
    and the two kernels' predictions tell the kernel's finite-width error from the network's
    departure from its linearization.
    """

    name: ClassVar[str] = "kernel_prediction"
    Params: ClassVar[type[Params]] = PredictionParams
    optimizers = frozenset({"gd"})
    needs = frozenset({"recurrent", "sequence"})
    outputs: ClassVar[dict[str, Output]] = {
        "kernel_prediction_loss": Output(long_name="f_∞,t = ½||(I - η m K_∞)^t r_0||², the loss the kernel predicts",
                                         paper_ref="Definition 2.3, Theorem 1"),
        "kernel_prediction_loss_gap": Output(long_name="|f(W_t) - f_∞,t| / f(W_0)",
                                             paper_ref="Definition 2.3, Theorem 1"),
        "kernel_prediction_gap": Output(long_name="||r_t - r_∞,t|| / ||r_0||, r_∞ the residuals the kernel predicts",
                                        paper_ref="Definition 2.3, Theorem 1"),
    }

    def measure(self, params: PredictionParams, probe: Probe) -> dict[str, Tensor]:
        rate = replayed_step_size(self.name, probe)
        prediction_gap, loss_gap, loss = against_linear_gd(probe, rate, *predicting_kernel(params.kernel, probe))
        return {"kernel_prediction_loss": loss, "kernel_prediction_loss_gap": loss_gap,
                "kernel_prediction_gap": prediction_gap}
