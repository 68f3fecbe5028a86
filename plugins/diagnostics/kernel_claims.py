"""The report's claims on the variables of ``kernel_spectrum``, ``kernel_drift``, ``kernel_deviation``
and ``kernel_prediction``: the tangent kernel's smallest eigenvalue (Theorem 3), how little it moves
(the regime of Theorems 3–4), how near a network of width m is to the kernel of infinite width, and
how near its training is to what that kernel predicts.

Each is a power law in m: λ_min(K)/m bounded below (exponent ≥ 0), the drift vanishing (exponent
< 0), the deviation from K_∞ vanishing (exponent < 0, the central-limit rate being −1/2), the
distance from the kernel's prediction vanishing (exponent < 0).
"""
from __future__ import annotations

from overparam import Column
from overparam.claims import ReferenceLine, ScalingLawClaim, ScalingPanel
from plugins.diagnostics.linearization_claims import against_prediction_panels


class KernelLowerBound(ScalingLawClaim):
    """Minimum over training of λ_min(J Jᵀ)/m against m: Theorem 3's gradient lower bound, on the kernel."""

    name = "kernel_lower_bound"
    title = "The tangent kernel's smallest eigenvalue grows as m"
    paper_ref = "Theorem 3"
    statement = ("‖∇f(W)‖_F² = rᵀ(J Jᵀ)r ≥ Ω(δ/poly(ρ))·m·f(W) for every W within poly(ϱ)/√m of initialization: "
                 "λ_min(J Jᵀ)/m stays above a constant that does not shrink as m grows (exponent in m at least 0); "
                 "the PL ratio is at least twice it.")
    figure = "kernel_spectrum"
    figure_title = "Theorem 3: extreme eigenvalues of the tangent kernel J Jᵀ over m, along training"
    order = 110
    panels = (
        ScalingPanel("kernel_min", reduce="min", name="min_t λ_min(J Jᵀ)/m", judged=True, listed="fit and medians",
                     ylabel=r"$\min_t\ \lambda_{\min}(JJ^\top)/m$"),
        ScalingPanel("kernel_max", reduce="max", name="max_t λ_max(J Jᵀ)/m",
                     ylabel=r"$\max_t\ \lambda_{\max}(JJ^\top)/m$"),
        ScalingPanel("kernel_condition", reduce="max", name="max_t condition number",
                     ylabel=r"$\max_t\ \lambda_{\max}/\lambda_{\min}$"),
    )
    bound = 0.0
    allowed = "above"
    columns = (Column("min lambda_min/m", "kernel_min", "min"), Column("max condition", "kernel_condition", "max"))


class KernelStaysPut(ScalingLawClaim):
    """Largest relative change of the tangent kernel over training against m: the lazy regime."""

    name = "kernel_stays_put"
    title = "Training barely moves the tangent kernel"
    paper_ref = "Theorems 3–4, (5.1)"
    statement = ("The proofs keep training within poly(ϱ)/√m of W0, where hidden states move by O(m^(−1/2)) and at "
                 "most O(m^(2/3)) of the m ReLU signs flip ((5.1)); the kernel J Jᵀ, built from them, changes by a "
                 "vanishing fraction: ‖K_t − K_0‖_F/‖K_0‖_F shrinks as m grows (exponent in m below 0), and the "
                 "alignment ⟨K_t, K_0⟩/(‖K_t‖‖K_0‖) tends to 1.")
    figure = "kernel_drift"
    figure_title = "Theorems 3–4: relative change of the tangent kernel since initialization, max over training"
    order = 111
    panels = (
        ScalingPanel("kernel_drift", reduce="max", name="max_t ‖K_t − K_0‖_F/‖K_0‖_F", judged=True,
                     listed="fit and medians", ylabel=r"$\max_t\ \|K_t-K_0\|_F/\|K_0\|_F$",
                     references=(ReferenceLine(-0.5, "∝ m^(−1/2) (through first point)"),
                                 ReferenceLine(-1 / 3, "∝ m^(−1/3): the flipped fraction (5.1)"))),
        ScalingPanel("kernel_alignment", reduce="min", name="min_t alignment",
                     ylabel=r"$\min_t\ \langle K_t,K_0\rangle/(\|K_t\|_F\|K_0\|_F)$"),
    )
    bound = 0.0
    allowed = "below"
    columns = (Column("max kernel drift", "kernel_drift", "max"), Column("min alignment", "kernel_alignment", "min"))


class KernelNearItsLimit(ScalingLawClaim):
    """Distance of the initial tangent kernel from its infinite-width limit against m."""

    name = "kernel_near_limit"
    title = "The initial tangent kernel approaches its infinite-width limit"
    paper_ref = "Definition 2.3, Theorem 3"
    statement = ("At the initialization of Definition 2.3, K/m = J Jᵀ/m converges as m → ∞ to the kernel K_∞ of the "
                 "arc-cosine recursion (ReLU forward correlations; backward factors under the gradient independence "
                 "assumption, exact for a read-out drawn independently with mean zero): ‖K_0/m − K_∞‖_F/‖K_∞‖_F "
                 "shrinks as m grows (exponent below 0); fluctuations of a sum of m terms would give −1/2.")
    figure = "kernel_deviation"
    figure_title = "Distance of J Jᵀ/m at initialization from its infinite-width limit"
    order = 112
    panels = (
        ScalingPanel("kernel_deviation", reduce="final", name="‖K_0/m − K_∞‖_F/‖K_∞‖_F", judged=True,
                     listed="fit and medians", ylabel=r"$\|K_0/m-K_\infty\|_F/\|K_\infty\|_F$",
                     references=(ReferenceLine(-0.5, "∝ m^(−1/2): central-limit rate (through first point)"),)),
    )
    bound = 0.0
    allowed = "below"
    columns = (Column("kernel deviation", "kernel_deviation"),)


class TrainingFollowsKernel(ScalingLawClaim):
    """Largest distance over training between the network and GD on its infinite-width kernel, against m."""

    name = "follows_limit_kernel"
    title = "Training follows its infinite-width kernel's prediction"
    paper_ref = "Definition 2.3, Theorem 1"
    statement = ("With η = c/m and K_0/m → K_∞ as m → ∞, GD on a wide network moves its residuals as GD on the linear "
                 "model of kernel m·K_∞: r_t ≈ (I − c K_∞)^t r_0 from its own r_0 (Jacot et al. 2018; Lee et al. "
                 "2019). The network's largest distance from that prediction over training, "
                 "max_t ‖r_t − r_∞,t‖/‖r_0‖, shrinks as m grows (exponent in m below 0).")
    figure = "kernel_prediction"
    figure_title = "Network against GD on its infinite-width kernel (same r_0 and step size), max over training"
    order = 114
    panels = against_prediction_panels("kernel_prediction_gap", "kernel_prediction_loss_gap", "∞", r"\infty")
    bound = 0.0
    allowed = "below"
    columns = (Column("max kernel prediction gap", "kernel_prediction_gap", "max"),)
