"""Built-in initializers: the paper's random initialization (Definition 2.3), and two that
change only W: a scaled random orthogonal matrix, and the IRNN's scaled identity.

All three draw from one CPU stream per seed in the same order (an m x m Gaussian block, then
A, then B), so at one seed `orthogonal` and `identity` have exactly the A and B of `paper`:
comparing initializations compares W alone.
"""
from __future__ import annotations

import math
from typing import ClassVar

import torch
from pydantic import Field

from framework import Initializer, InitializerParams, Params, Weights, elman_weights, hookimpl, seeded_generator


def gaussian(shape: tuple[int, ...], variance: float, rng: torch.Generator) -> torch.Tensor:
    """i.i.d. N(0, variance) entries (the paper's second argument is the variance), float64."""
    return math.sqrt(variance) * torch.randn(*shape, generator=rng, dtype=torch.float64)


class PaperInitialization(Initializer):
    """W, A ~ N(0, 2/m) and B ~ N(0, 1/d) entrywise (Definition 2.3)."""

    name: ClassVar[str] = "paper"
    Params: ClassVar[type[Params]] = InitializerParams

    def initialize(self, params: InitializerParams, d_x: int, d: int, seed: int) -> Weights:
        """Draws W, then A, then B from one CPU stream seeded by ``seed``."""
        rng = seeded_generator(seed)
        m = params.m
        W = gaussian((1, m, m), 2 / m, rng)
        A, B = paper_input_output(m, d_x, d, rng)
        return elman_weights(W, A, B)


def paper_input_output(m: int, d_x: int, d: int, rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A ~ N(0, 2/m) and B ~ N(0, 1/d) entrywise (Definition 2.3), drawn after W's block."""
    return gaussian((1, m, d_x), 2 / m, rng), gaussian((1, d, m), 1 / d, rng)


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

    def initialize(self, params: ScaledWParams, d_x: int, d: int, seed: int) -> Weights:
        """W is Haar-orthogonal times ``scale``, so every singular value of W is ``scale``. The
        default sqrt(2) keeps ||h_l|| about constant with depth, like the paper's N(0, 2/m):
        W preserves norms up to the scale and ReLU halves E||g||² for sign-symmetric g."""
        rng = seeded_generator(seed)
        m = params.m
        W = params.scale * haar_orthogonal(torch.randn(1, m, m, generator=rng, dtype=torch.float64))
        A, B = paper_input_output(m, d_x, d, rng)
        return elman_weights(W, A, B)


class IdentityParams(InitializerParams):
    """The width and the scale of W."""

    scale: float = Field(1.0, gt=0, description="W = scale * I (1 is the IRNN of Le, Jaitly and Hinton 2015)")


class IdentityInitialization(Initializer):
    """W = scale * I, the IRNN initialization; A ~ N(0, 2/m), B ~ N(0, 1/d) as in Definition 2.3."""

    name: ClassVar[str] = "identity"
    Params: ClassVar[type[Params]] = IdentityParams

    def initialize(self, params: IdentityParams, d_x: int, d: int, seed: int) -> Weights:
        """With scale 1 and h_{l-1} >= 0, h_l = relu(h_{l-1} + A x_l): the state accumulates the
        inputs. The m x m block that `paper` spends on W is drawn and discarded, so A and B match
        `paper`'s at the same seed."""
        rng = seeded_generator(seed)
        m = params.m
        torch.randn(1, m, m, generator=rng, dtype=torch.float64)
        W = params.scale * torch.eye(m, dtype=torch.float64).unsqueeze(0)
        A, B = paper_input_output(m, d_x, d, rng)
        return elman_weights(W, A, B)


@hookimpl
def overparam_register_initializers() -> list[type[Initializer]]:
    """`paper`, `orthogonal` and `identity`."""
    return [PaperInitialization, OrthogonalInitialization, IdentityInitialization]
