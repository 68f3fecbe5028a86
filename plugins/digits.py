"""The `digits` generator: real data, the 8x8 handwritten digits that scikit-learn ships.

Each image is read as a sequence of its 8 rows, top to bottom (L = 8, one row of 8 pixels per
layer). A row ``r`` (pixels 0 to 16) is scaled to ``v = r / (16 sqrt(8))``, so ``||v|| <= 1``
for every possible row, then padded as in the paper's footnote 5 to
``(v / sqrt(2), sqrt((1 - ||v||²) / 2), 1 / sqrt(2))``: every ``x_{i,l}`` has unit norm and last
coordinate 1/sqrt(2) (d_x = 10), which is §2.1's convention for ``x_{i,1}`` and within it for
the later rows.

Targets are ``target_scale`` times the one-hot of the label (d = 10), at the last layer only
(``targets: last``, zero targets before: read the whole image, then answer) or at every layer
(``targets: all``: answer while reading). Labels are the true ones or, as in "fitting random
labels", drawn uniformly from 0 to 9 independently of the image.

δ is measured: the top rows of two images may coincide (the top row is often blank), and then
δ = 0 and Assumption 2.1 does not hold for that draw.

scikit-learn is the optional extra ``digits`` (``pip install 'overparam[digits]'``); the data
set is inside the package, so nothing is downloaded.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar, Literal

import torch
from pydantic import Field

from overparam import Generator, Params, Problem, hookimpl
from overparam.engine import first_input_separation, pad_to_unit_norm, seeded_generator

if TYPE_CHECKING:
    from torch import Tensor

IMAGES = 1797
CLASSES = 10
ROWS = 8
ROW_NORM_MAX = 16 * math.sqrt(8)
MISSING_SCIKIT_LEARN = (
    "the 'digits' generator needs scikit-learn, which is not installed: "
    "pip install 'overparam[digits]' (or pip install scikit-learn)"
)


class DigitsParams(Params):
    """How many images, which labels, where the targets are."""

    n: int = Field(64, ge=1, le=IMAGES, description=f"number of images, drawn without replacement from {IMAGES}")
    labels: Literal["true", "random"] = Field("true", description="the images' labels, or uniform random ones")
    targets: Literal["last", "all"] = Field("last", description="one-hot label at the last layer only, or at every layer")
    target_scale: float = Field(1.0, gt=0, description="norm of the one-hot target")


def load_digit_images() -> tuple[Tensor, Tensor]:
    """All images ``[1797, 8, 8]`` (float64, pixels 0 to 16) and labels ``[1797]``, from
    scikit-learn's bundled copy; ``ImportError`` with the install command when it is missing."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise ImportError(MISSING_SCIKIT_LEARN) from error
    data = load_digits()
    return torch.as_tensor(data.images, dtype=torch.float64), torch.as_tensor(data.target, dtype=torch.long)


def rows_as_inputs(images: Tensor) -> Tensor:
    """Images ``[n, 8, 8]`` to inputs ``[n, 8, 10]``: each row scaled into the unit ball, padded."""
    return pad_to_unit_norm(images / ROW_NORM_MAX)


def label_targets(labels: Tensor, L: int, where: str, scale: float) -> Tensor:
    """Targets ``[n, L, 10]``: ``scale * e_label`` at the last layer, or at every layer."""
    onehot = scale * torch.nn.functional.one_hot(labels, CLASSES).to(torch.float64)
    Y = torch.zeros(labels.shape[0], L, CLASSES, dtype=torch.float64)
    if where == "all":
        Y[:] = onehot.unsqueeze(1)
    else:
        Y[:, -1] = onehot
    return Y


class Digits(Generator):
    """The 8x8 handwritten digits of scikit-learn, read row by row, with true or random labels."""

    name: ClassVar[str] = "digits"
    Params: ClassVar[type[Params]] = DigitsParams

    def shape(self, params: DigitsParams) -> tuple[int, int, int, int]:
        """``(n, 8, 10, 10)``: 8 rows of 8 pixels, padded by two coordinates; 10 classes."""
        return (params.n, ROWS, ROWS + 2, CLASSES)

    def generate(self, params: DigitsParams, seed: int) -> Problem:
        """``n`` images drawn by ``seed`` without replacement, then (for random labels) their
        labels from the same stream; X ``[1, n, 8, 10]``, Y ``[1, n, 8, 10]``, δ measured."""
        images, labels = load_digit_images()
        rng = seeded_generator(seed)
        chosen = torch.randperm(images.shape[0], generator=rng)[: params.n]
        if params.labels == "random":
            targets = torch.randint(CLASSES, (params.n,), generator=rng)
        else:
            targets = labels[chosen]
        X = rows_as_inputs(images[chosen])
        Y = label_targets(targets, X.shape[1], params.targets, params.target_scale)
        return Problem(X.unsqueeze(0), Y.unsqueeze(0), torch.tensor([first_input_separation(X)], dtype=torch.float64))


@hookimpl
def overparam_register_generators() -> list[type[Generator]]:
    """The `digits` generator."""
    return [Digits]
