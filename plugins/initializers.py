"""Built-in initializers: the paper's random initialization (Definition 2.3), for any model,
and two for the Elman network that change only W: a scaled random orthogonal matrix, and the
IRNN's scaled identity.

All three draw from one CPU stream per seed in the model's declaration order (for the Elman
network an m x m Gaussian block, then A, then B), so at one seed `orthogonal` and `identity`
have exactly the A and B of `paper`: comparing initializations compares W alone.
"""
from __future__ import annotations

import math
from typing import ClassVar

import torch
from pydantic import Field

from overparam import Initializer, InitializerParams, WeightLayout, Weights, hookimpl
from overparam.engine import ELMAN_DIMS, HIDDEN, seeded_generator


def gaussian(shape: tuple[int, ...], variance: float, rng: torch.Generator) -> torch.Tensor:
    """i.i.d. N(0, variance) entries (the paper's second argument is the variance), float64."""
    return math.sqrt(variance) * torch.randn(*shape, generator=rng, dtype=torch.float64)


def is_readout(labels: tuple[str, ...]) -> bool:
    """Whether a weight with these axis labels maps into the output space (its first axis is
    the data's d): the read-out B of Definition 2.3, drawn N(0, 1/d) where the others are N(0, 2/m)."""
    return labels[:1] == ("d",)


def paper_weight(layout: WeightLayout, name: str, rng: torch.Generator) -> torch.Tensor:
    """One weight as Definition 2.3 draws it: N(0, 1/d) for the read-out, N(0, 2/m) otherwise."""
    variance = 1 / layout.sizes["d"] if is_readout(layout.dims[name]) else 2 / layout.sizes[HIDDEN]
    return gaussian(layout.shape(name), variance, rng)


class PaperInitialization(Initializer):
    """Every weight N(0, 2/m) entrywise but the read-out, N(0, 1/d) (Definition 2.3); any model.

    Definition 2.3 for the Elman network (W, A ~ N(0, 2/m), B ~ N(0, 1/d)), and the companion
    paper's initialization of the deep feed-forward network (each W_l and A ~ N(0, 2/m),
    B ~ N(0, 1/d))."""

    name: ClassVar[str] = "paper"
    Params: ClassVar[type[Params]] = InitializerParams

    def initialize(self, params: InitializerParams, layout: WeightLayout, seed: int) -> Weights:
        """Draws the weights in the model's declaration order from one CPU stream seeded by ``seed``."""
        rng = seeded_generator(seed)
        return layout.weights({name: paper_weight(layout, name, rng) for name in layout.dims})


def elman_with_W(W: torch.Tensor, layout: WeightLayout, rng: torch.Generator) -> Weights:
    """The Elman network's weights with this W [m, m]; A and B drawn as `paper` draws them, after W's block."""
    return layout.weights({"W": W, "A": paper_weight(layout, "A", rng), "B": paper_weight(layout, "B", rng)})


def haar_orthogonal(gaussian_block: torch.Tensor) -> torch.Tensor:
    """A uniformly (Haar) distributed orthogonal matrix from a square Gaussian block: the Q of
    its QR decomposition, with the column signs fixed by sign(diag R) (Mezzadri 2007), without
    which Q would not be uniform."""
    q, r = torch.linalg.qr(gaussian_block)
    signs = torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))
    return q * torch.where(signs == 0, torch.ones_like(signs), signs).unsqueeze(-2)


class ScaledWParams(InitializerParams):
    """The width and the scale of W."""

    scale: float = Field(math.sqrt(2), gt=0, description="W = scale * (an orthogonal matrix)")


class OrthogonalInitialization(Initializer):
    """W = scale * a random orthogonal matrix; A ~ N(0, 2/m), B ~ N(0, 1/d) as in Definition 2.3."""

    name: ClassVar[str] = "orthogonal"
    Params: ClassVar[type[Params]] = ScaledWParams
    dims = ELMAN_DIMS

    def initialize(self, params: ScaledWParams, layout: WeightLayout, seed: int) -> Weights:
        """W is Haar-orthogonal times ``scale``, so every singular value of W is ``scale``. The
        default sqrt(2) keeps ||h_l|| about constant with depth, like the paper's N(0, 2/m):
        W preserves norms up to the scale and ReLU halves E||g||² for sign-symmetric g."""
        rng = seeded_generator(seed)
        m = params.m
        W = params.scale * haar_orthogonal(torch.randn(1, m, m, generator=rng, dtype=torch.float64))
        return elman_with_W(W, layout, rng)


class IdentityParams(InitializerParams):
    """The width and the scale of W."""

    scale: float = Field(1.0, gt=0, description="W = scale * I (1 is the IRNN of Le, Jaitly and Hinton 2015)")


class IdentityInitialization(Initializer):
    """W = scale * I, the IRNN initialization; A ~ N(0, 2/m), B ~ N(0, 1/d) as in Definition 2.3."""

    name: ClassVar[str] = "identity"
    Params: ClassVar[type[Params]] = IdentityParams
    dims = ELMAN_DIMS

    def initialize(self, params: IdentityParams, layout: WeightLayout, seed: int) -> Weights:
        """With scale 1 and h_{l-1} >= 0, h_l = relu(h_{l-1} + A x_l): the state accumulates the
        inputs. The m x m block that `paper` spends on W is drawn and discarded, so A and B match
        `paper`'s at the same seed."""
        rng = seeded_generator(seed)
        m = params.m
        torch.randn(m, m, generator=rng, dtype=torch.float64)
        W = params.scale * torch.eye(m, dtype=torch.float64)
        return elman_with_W(W, layout, rng)


@hookimpl
def overparam_register_initializers() -> list[type[Initializer]]:
    """`paper`, `orthogonal` and `identity`."""
    return [PaperInitialization, OrthogonalInitialization, IdentityInitialization]
