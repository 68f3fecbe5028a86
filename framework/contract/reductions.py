"""A variable's training trajectory as one number per grid point: the reductions claims and
``overparam show`` columns name (``overparam.Column``'s ``reduce``).

Variables logged along training have a ``step`` axis, NaN at the steps their stage did not
measure; a variable measured once (at the end, say) has none and is its own final value.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import xarray as xr

STEP = "step"


def final(ds: xr.Dataset, name: str) -> xr.DataArray:
    """A variable at the last step each grid point logged a value (NaN where none)."""
    return last_logged(ds[name])


def last_logged(values: xr.DataArray) -> xr.DataArray:
    """``values`` at the last step with a value, per grid point; as it is without a ``step`` axis."""
    if STEP not in values.dims:
        return values
    valid = values.notnull()
    position = xr.DataArray(np.arange(values.sizes[STEP]), dims=STEP)
    last = (valid * position).max(STEP)
    return values.isel({STEP: last}).where(valid.any(STEP))


def first_logged(values: xr.DataArray) -> xr.DataArray:
    """``values`` at the first step (step 0, where every trajectory starts)."""
    return values.isel({STEP: 0}) if STEP in values.dims else values


def reduce(values: xr.DataArray, how: str, over: Iterable[str] = (STEP,)) -> xr.DataArray:
    """One of ``final``, ``min``, ``max``, ``relative`` (final over first) of ``values``.

    ``min`` and ``max`` run over the dimensions in ``over`` that ``values`` has (NaN skipped);
    ``final`` and ``relative`` over ``step`` only.
    """
    if how == "final":
        return last_logged(values)
    if how == "relative":
        return last_logged(values) / first_logged(values)
    dims = [dim for dim in over if dim in values.dims]
    if how == "min":
        return values.min(dims) if dims else values
    if how == "max":
        return values.max(dims) if dims else values
    raise ValueError(f"unknown reduction {how!r}: final, min, max or relative")
