"""Test plugins whose code fails while a pipeline is validated: a generator whose sizes come
from another parameter but that does not override ``shape()``, one whose ``shape()`` reads a
missing file, a schema whose validator raises a non-validation error, and a diagnostic whose
``dim_sizes`` raises."""
from __future__ import annotations

from pathlib import Path

import torch
from pydantic import Field, model_validator

from overparam import Diagnostic, Generator, Output, Params, Problem, hookimpl
from plugins.separable import Separable


class SizeParams(Params):
    size: int = Field(4, ge=1, description="n = L = d_x = size, d = 2")


class Sized(Generator):
    """Separable data whose sizes all come from one parameter; forgets to override shape()."""

    name = "sized"
    Params = SizeParams

    def generate(self, params, seed):
        separable = Separable()
        return separable.generate(separable.parse_params(
            {"n": params.size, "L": params.size, "d_x": params.size, "d": 2}), seed)


class FileParams(Params):
    path: str = Field("missing.npz", description="a file that does not exist")


class FromFile(Generator):
    """Data read from a file; shape() reads the file and fails when it is missing."""

    name = "from_file"
    Params = FileParams

    def shape(self, params):
        return tuple(Path(params.path).read_text().split())

    def generate(self, params, seed):
        raise NotImplementedError


class PickyParams(Params):
    n: int = Field(4, ge=1, description="number of sequences")

    @model_validator(mode="after")
    def _lookup(self):
        return {"table": self}["missing key"]


class Picky(Generator):
    """A generator whose parameter validator raises a KeyError."""

    name = "picky"
    Params = PickyParams

    def generate(self, params, seed):
        raise NotImplementedError


class Sizeless(Diagnostic):
    """A diagnostic whose dim_sizes raises."""

    name = "sizeless"
    outputs = {"sizeless_value": Output("a value", "§2", dims=("slot",))}

    def dim_sizes(self, params, shape):
        raise ZeroDivisionError("no slots today")

    def measure(self, params, probe):
        return {"sizeless_value": torch.zeros(probe.weights.K, 1)}


@hookimpl
def overparam_register_generators():
    return [Sized, FromFile, Picky]


@hookimpl
def overparam_register_diagnostics():
    return [Sizeless]
