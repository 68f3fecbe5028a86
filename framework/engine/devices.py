"""Choosing where and in what precision tensors live: one ``device`` argument for CPU and CUDA."""
from __future__ import annotations

import torch

DTYPES = ("float64", "float32")  # the names a pipeline's dtype: takes


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda`` or ``cuda:N``."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} was asked for, but torch sees no CUDA device")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda[:N], got {name!r}")
    return device


def resolve_dtype(name: str | torch.dtype = "float64") -> torch.dtype:
    """``float64`` (the default: fp32 rounding can flip ReLU signs) or ``float32``."""
    if isinstance(name, torch.dtype):
        return name
    if name not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {name!r}")
    return getattr(torch, name)
