"""A run store opened as a dataset, whole or as one diagnostic stage saw it.

Every scheduled variable shares the store's ``step`` axis, the union of every stage's schedule,
so a stage that logs at 5 steps beside one that logs at 40 reads NaN at 35 of its rows. One
stage's view keeps that stage's variables on that stage's own steps (the store's
``stage_steps`` attribute), a diagnostic listed in several stages taken at this one, the
per-training run variables taken for the training it measures, and each grid point's
``status``, ``error`` and ``wall_time`` beside them.
"""
from __future__ import annotations

import json
from pathlib import Path

import xarray as xr

from framework.contract.messages import did_you_mean
from framework.contract.store_names import RUN_VARIABLES, STAGE_DIM, STEP_DIM, TRAINING_DIM
from framework.contract.store_view import stage_trainings


def open_store(path: Path, stage: str | None = None) -> xr.Dataset:
    """The store at ``path`` (``xr.open_zarr``, lazy), or one diagnostic stage's view of it."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such store")
    ds = xr.open_zarr(str(path))
    return ds if stage is None else stage_dataset(ds, stage)


def diagnostic_stages(ds: xr.Dataset) -> dict[str, list[str]]:
    """Each diagnostic stage of the store's run, with the diagnostics it lists."""
    stages = json.loads(str(ds.attrs.get("resolved_config", "{}"))).get("stages", {})
    return {name: list(stage.get("components", [])) for name, stage in stages.items()
            if isinstance(stage, dict) and stage.get("kind") == "diagnostic"}


def stage_dataset(ds: xr.Dataset, stage: str) -> xr.Dataset:
    """The variables ``stage`` measured, on its own steps; ``ValueError`` naming the store's
    diagnostic stages when it is not one of them."""
    stages = diagnostic_stages(ds)
    if stage not in stages:
        raise ValueError(f"the store has no diagnostic stage '{stage}'{did_you_mean(stage, stages)}; its diagnostic "
                         f"stages: {', '.join(stages) or 'none'}")
    training = stage_trainings(ds).get(stage)
    kept: dict[str, xr.DataArray] = {}
    for name, variable in ds.data_vars.items():
        if name in RUN_VARIABLES:
            kept[str(name)] = variable
        elif variable.attrs.get("diagnostic") in stages[stage] and variable.attrs.get("stage", stage) == stage:
            kept[str(name)] = variable.sel({STAGE_DIM: stage}, drop=True) if STAGE_DIM in variable.dims else variable
    view = xr.Dataset(kept, attrs=ds.attrs)
    if TRAINING_DIM in view.dims and training is not None:
        view = view.sel({TRAINING_DIM: training}, drop=True)
    view = view.drop_vars([name for name in ("trained_by",) if name in view.coords])
    if STEP_DIM in view.dims:
        steps = json.loads(str(ds.attrs.get("stage_steps", "{}"))).get(stage)
        if steps is not None:
            view = view.sel({STEP_DIM: steps})
        else:  # a store from before stage_steps was recorded: the steps where the stage has any value
            scheduled = [name for name in view.data_vars if name not in RUN_VARIABLES and STEP_DIM in view[name].dims]
            view = view.dropna(STEP_DIM, how="all", subset=scheduled) if scheduled else view
    view.attrs = {**ds.attrs, "stage": stage}
    return view
