"""The networks' mathematics and the tensor helpers a plugin builds on.

The Elman network of §2.1 (``Elman``, its weights and the closed forms of Fact 2.5), ensemble
helpers (every tensor has a leading ensemble axis K), seeded random streams, the inputs'
convention of §2.1, spectral norms and eigenvalues, the tangent kernel, devices and dtypes, and
the training loop. Loaded on first use, as ``overparam`` itself.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from overparam._exports import lazy_names

_EXPORTS: dict[str, str] = {
    "Elman": "framework.engine.rnn",
    "OutputScaled": "framework.engine.output_scale",
    "DerivedNetwork": "framework.engine.network",
    "ELMAN_DIMS": "framework.engine.rnn",
    "elman_weights": "framework.engine.rnn",
    "closed_form_gradient": "framework.engine.rnn",
    "forward": "framework.engine.rnn",
    "loss": "framework.engine.rnn",
    "member_rows": "framework.engine.rnn",
    "HIDDEN": "framework.engine.tensors",
    "aligned_rows": "framework.engine.tensors",
    "member_sum": "framework.engine.tensors",
    "per_member": "framework.engine.tensors",
    "normal_per_member": "framework.engine.probe",
    "seeded_generator": "framework.engine.seeds",
    "FIRST_INPUT_LAST_COORDINATE": "framework.engine.inputs",
    "first_input_separation": "framework.engine.inputs",
    "pad_to_unit_norm": "framework.engine.inputs",
    "top_singular_value": "framework.engine.spectral",
    "extreme_eigenvalues": "framework.engine.spectral",
    "ExtremeEigenvalues": "framework.engine.spectral",
    "TangentKernel": "framework.engine.kernel",
    "resolve_device": "framework.engine.devices",
    "resolve_dtype": "framework.engine.devices",
    "DEFAULT_MODEL": "framework.contract.model",
    "measured_steps": "framework.contract.sparse_schedule",
    "train": "framework.execution.training",
    "Trajectory": "framework.execution.training",
    "log_schedule": "framework.planning.schedule",
}

__all__ = list(_EXPORTS)

if TYPE_CHECKING:
    from framework.contract.model import DEFAULT_MODEL as DEFAULT_MODEL
    from framework.contract.sparse_schedule import measured_steps as measured_steps
    from framework.engine.devices import resolve_device as resolve_device
    from framework.engine.devices import resolve_dtype as resolve_dtype
    from framework.engine.inputs import FIRST_INPUT_LAST_COORDINATE as FIRST_INPUT_LAST_COORDINATE
    from framework.engine.inputs import first_input_separation as first_input_separation
    from framework.engine.inputs import pad_to_unit_norm as pad_to_unit_norm
    from framework.engine.kernel import TangentKernel as TangentKernel
    from framework.engine.probe import normal_per_member as normal_per_member
    from framework.engine.rnn import ELMAN_DIMS as ELMAN_DIMS
    from framework.engine.network import DerivedNetwork as DerivedNetwork
    from framework.engine.output_scale import OutputScaled as OutputScaled
    from framework.engine.rnn import Elman as Elman
    from framework.engine.rnn import closed_form_gradient as closed_form_gradient
    from framework.engine.rnn import elman_weights as elman_weights
    from framework.engine.rnn import forward as forward
    from framework.engine.rnn import loss as loss
    from framework.engine.rnn import member_rows as member_rows
    from framework.engine.seeds import seeded_generator as seeded_generator
    from framework.engine.spectral import ExtremeEigenvalues as ExtremeEigenvalues
    from framework.engine.spectral import extreme_eigenvalues as extreme_eigenvalues
    from framework.engine.spectral import top_singular_value as top_singular_value
    from framework.engine.tensors import HIDDEN as HIDDEN
    from framework.engine.tensors import aligned_rows as aligned_rows
    from framework.engine.tensors import member_sum as member_sum
    from framework.engine.tensors import per_member as per_member
    from framework.execution.training import Trajectory as Trajectory
    from framework.execution.training import train as train
    from framework.planning.schedule import log_schedule as log_schedule
else:
    __getattr__, __dir__ = lazy_names(globals(), _EXPORTS)
