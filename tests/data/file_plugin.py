"""A test plugin that reads its data set from a file named by a ``PipelinePath`` parameter."""
from __future__ import annotations

import numpy as np
import torch
from pydantic import Field

from overparam import Generator, Params, PipelinePath, Problem, hookimpl
from overparam.engine import first_input_separation


class NpzParams(Params):
    path: PipelinePath = Field(description=".npz file with arrays X [n, L, d_x] and Y [n, L, d]")


class NpzData(Generator):
    """Inputs and targets read from an .npz file."""

    name = "npz_data"
    Params = NpzParams

    def shape(self, params):
        with np.load(params.path) as arrays:
            n, L, d_x = arrays["X"].shape
            return (n, L, d_x, arrays["Y"].shape[-1])

    def generate(self, params, seed):
        with np.load(params.path) as arrays:
            X = torch.from_numpy(arrays["X"]).double()
            Y = torch.from_numpy(arrays["Y"]).double()
        return Problem(X[None], Y[None], torch.tensor([first_input_separation(X)], dtype=torch.float64))


@hookimpl
def overparam_register_generators():
    return [NpzData]
