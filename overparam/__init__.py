"""overparam: test, by experiment, what theory proves about over-parameterized recurrent networks.

This module is the public API, for users and plugin authors alike:

- **Running** (notebooks, scripts): ``run``, ``validate``, ``plan``, ``open``, ``report``; a
  pipeline is a file's path, YAML text or a dict, and ``overrides`` change any key the way the
  command line's ``key.path=value`` arguments do (docs/api.md).
- **Writing plugins**: the component contracts (``Generator``, ``Initializer``, ``Optimizer``,
  ``Diagnostic``, ``Model``) and the report's ``Claim``, their parameter schemas, the tensors
  they exchange, and ``hookimpl`` (docs/plugins.md). What a plugin needs beyond these lives in
  three namespaces: ``overparam.engine`` (the networks' mathematics and tensor helpers),
  ``overparam.claims`` (fits, verdicts and figures for claims) and ``overparam.testing``
  (pytest helpers).

``API_VERSION`` is the version of the plugin contract; each change of it has a migration note
in docs/plugins.md ("Compatibility"). Everything under ``framework`` and ``plugins`` is the
implementation and may change without notice.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from framework import __version__ as __version__
from framework.contract.version import API_VERSION as API_VERSION
from overparam._exports import lazy_names

_EXPORTS: dict[str, str] = {
    "run": "framework.api.running",
    "validate": "framework.api.running",
    "plan": "framework.api.running",
    "open": "framework.api.running",
    "report": "framework.api.running",
    "Plan": "framework.planning.plan",
    "PipelineError": "framework.configuration.source",
    "PluginError": "framework.plugin_system.registry",
    "ClusterError": "framework.execution.cluster_options",
    "hookimpl": "framework.plugin_system.hookspecs",
    "Component": "framework.contract.components",
    "Generator": "framework.contract.components",
    "Initializer": "framework.contract.components",
    "Optimizer": "framework.contract.components",
    "Diagnostic": "framework.contract.diagnostic",
    "Model": "framework.contract.model",
    "ModelParams": "framework.contract.model",
    "Claim": "framework.contract.claim",
    "Params": "framework.contract.components",
    "InitializerParams": "framework.contract.components",
    "OptimizerParams": "framework.contract.components",
    "SparseScheduleParams": "framework.contract.sparse_schedule",
    "PipelinePath": "framework.contract.components",
    "Output": "framework.contract.diagnostic",
    "ProblemShape": "framework.contract.diagnostic",
    "Column": "framework.contract.claim",
    "Problem": "framework.engine.tensors",
    "Weights": "framework.engine.tensors",
    "WeightLayout": "framework.engine.tensors",
    "Network": "framework.engine.network",
    "Forward": "framework.engine.network",
    "Probe": "framework.engine.probe",
    "StoreView": "framework.contract.store_view",
    "Assessment": "framework.contract.verdicts",
    "Verdict": "framework.contract.verdicts",
}

__all__ = ["API_VERSION", "__version__", *_EXPORTS]

if TYPE_CHECKING:
    from framework.api.running import open as open
    from framework.api.running import plan as plan
    from framework.api.running import report as report
    from framework.api.running import run as run
    from framework.api.running import validate as validate
    from framework.configuration.source import PipelineError as PipelineError
    from framework.execution.cluster_options import ClusterError as ClusterError
    from framework.contract.claim import Claim as Claim
    from framework.contract.claim import Column as Column
    from framework.contract.components import Component as Component
    from framework.contract.components import Generator as Generator
    from framework.contract.components import Initializer as Initializer
    from framework.contract.components import InitializerParams as InitializerParams
    from framework.contract.components import Optimizer as Optimizer
    from framework.contract.components import OptimizerParams as OptimizerParams
    from framework.contract.components import Params as Params
    from framework.contract.components import PipelinePath as PipelinePath
    from framework.contract.diagnostic import Diagnostic as Diagnostic
    from framework.contract.diagnostic import Output as Output
    from framework.contract.diagnostic import ProblemShape as ProblemShape
    from framework.contract.model import Model as Model
    from framework.contract.model import ModelParams as ModelParams
    from framework.contract.sparse_schedule import SparseScheduleParams as SparseScheduleParams
    from framework.contract.store_view import StoreView as StoreView
    from framework.contract.verdicts import Assessment as Assessment
    from framework.contract.verdicts import Verdict as Verdict
    from framework.engine.network import Forward as Forward
    from framework.engine.network import Network as Network
    from framework.engine.probe import Probe as Probe
    from framework.engine.tensors import Problem as Problem
    from framework.engine.tensors import WeightLayout as WeightLayout
    from framework.engine.tensors import Weights as Weights
    from framework.planning.plan import Plan as Plan
    from framework.plugin_system.hookspecs import hookimpl as hookimpl
    from framework.plugin_system.registry import PluginError as PluginError
else:
    __getattr__, __dir__ = lazy_names(globals(), _EXPORTS)
