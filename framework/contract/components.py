"""The component contracts: what a generator, an initializer and an optimizer are.

Each component is a class with a ``name``, a one-line description (its docstring's first
line) and a parameter schema ``Params`` (a pydantic model: types, defaults, bounds), so a
pipeline can be validated completely before anything is computed (docs/plugins.md). Components
produce float64 tensors on the CPU from integer seeds (drawing from
``overparam.engine.seeded_generator(seed)``); the caller moves them to the run's device and dtype,
which is why one seed gives the same numbers on every device.
"""
from __future__ import annotations

import types
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, Literal, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
)
from pydantic_core import PydanticCustomError
from typing_extensions import TypeVar  # with defaults (PEP 696): a bare ``Generator`` is ``Generator[Params]``

from framework.engine.network import Network
from framework.engine.tensors import WeightLayout, Problem, Weights

if TYPE_CHECKING:
    from torch import Tensor

SEQUENCE_ORIGINS = (list, tuple, set, frozenset, Sequence)


def _alternatives(annotation: Any) -> tuple[Any, ...]:
    """The types a field's annotation admits, with ``Annotated`` metadata stripped."""
    if get_origin(annotation) is Annotated:
        return _alternatives(get_args(annotation)[0])
    if get_origin(annotation) in (Union, types.UnionType):
        return tuple(alt for arg in get_args(annotation) for alt in _alternatives(arg))
    return (annotation,)


def _admits_boolean(annotation: Any) -> bool:
    """Whether a YAML ``true``/``false`` is a meaningful value for this annotation: it names
    ``bool`` (or ``Any``), a literal ``True``/``False``, or no number at all."""
    alternatives = _alternatives(annotation)
    if any(alt is bool or alt is Any for alt in alternatives):
        return True
    if any(get_origin(alt) is Literal and any(isinstance(v, bool) for v in get_args(alt)) for alt in alternatives):
        return True
    return not any(alt in (int, float) for alt in alternatives)


def boolean_in_number(annotation: Any, value: Any) -> str | None:
    """Where a boolean stands for a number in ``value`` (``""`` for the value itself, ``"[1]"``
    for an item), or ``None``. YAML's ``true`` is not a number: pydantic's lax mode would take
    it as 1, so ``n: true`` would make one sequence and ``m: [64, true]`` a network of width 1."""
    if isinstance(value, bool):
        return None if _admits_boolean(annotation) else ""
    if isinstance(value, (list, tuple)):
        for alternative in _alternatives(annotation):
            if get_origin(alternative) not in SEQUENCE_ORIGINS:
                continue
            args = [a for a in get_args(alternative) if a is not Ellipsis]
            for index, item in enumerate(value):
                item_type = args[index] if get_origin(alternative) is tuple and Ellipsis not in get_args(
                    alternative) and index < len(args) else (args[0] if args else Any)
                where = boolean_in_number(item_type, item)
                if where is not None:
                    return f"[{index}]{where}"
    return None


class Params(BaseModel):
    """Base of every component's parameter schema: unknown keys are errors, values are frozen.

    A boolean is never taken for a number (YAML's ``true`` is not 1): every field whose type
    is numeric refuses ``true``/``false``, in the component's own fields and inside lists, for
    built-ins and third-party components alike. A quoted number (``"200"``) is accepted: in a
    pipeline file it is an expression like ``"0.05/m"`` and evaluates to its value.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_booleans_as_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if field is not None:
            refuse_boolean_number(field.annotation, value)
        return value


def refuse_boolean_number(annotation: Any, value: Any) -> None:
    """Raise pydantic's error ``boolean_not_number`` when a boolean stands for a number in ``value``."""
    where = boolean_in_number(annotation, value)
    if where is not None:
        item = f"item {where} is " if where else ""
        raise PydanticCustomError("boolean_not_number", "{item}a boolean (true/false), expected a number",
                                  {"item": item})


PIPELINE_DIRECTORY = "pipeline_directory"  # the validation context's key for the pipeline file's folder


def _against_pipeline_file(value: Path, info: ValidationInfo) -> Path:
    """A relative path taken from the folder of the pipeline file being validated (as ``store:``
    is), or from the current directory when no pipeline file is involved; always absolute, so
    a worker with another working directory reads the same file."""
    directory = (info.context or {}).get(PIPELINE_DIRECTORY)
    value = value.expanduser()
    if value.is_absolute():
        return value
    return ((Path(directory) if directory is not None else Path.cwd()) / value).resolve()


PipelinePath = Annotated[Path, AfterValidator(_against_pipeline_file)]
"""A parameter that names a file: ``direction: PipelinePath = Field(...)``. A relative path in a
pipeline file is resolved against that file's folder, like the pipeline's ``store:``."""


ParamsSchema = Params
"""``Params`` under a second name, for annotations inside a component's class body, where the
class attribute ``Params`` (the component's own schema) shadows the base class."""
ParamsT = TypeVar("ParamsT", bound=Params, default=Params, covariant=True)
"""The parameter schema a generator or diagnostic takes: ``class MyData(Generator[MyParams])``
lets a type checker accept ``generate(self, params: MyParams, seed)``; a bare ``Generator`` is
``Generator[Params]``. Covariant, although it types arguments: the engine hands a component
only instances of its own schema (``cls.Params``), so a ``Generator[MyParams]`` may stand
wherever a ``Generator`` is expected (the list a registration hook returns)."""


class Component:
    """A named, documented piece that a pipeline file selects by ``plugin: NAME``.

    Each kind is generic in its parameter schema (``Generator[MyParams]``): the methods receive
    the parsed ``Params`` instance, so a subclass may annotate them with its own schema. The type
    parameter changes nothing at run time; a subclass that leaves it out works the same.
    """

    kind: ClassVar[str] = "component"
    name: ClassVar[str]
    Params: ClassVar[type[ParamsSchema]] = Params

    @classmethod
    def description(cls) -> str:
        """The one-line description: the first line of the class docstring."""
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""

    @classmethod
    def parse_params(cls, raw: Mapping[str, Any], directory: Path | None = None) -> ParamsSchema:
        """Validate raw parameters against the schema (raises ``pydantic.ValidationError``);
        ``directory`` is the pipeline file's folder, against which ``PipelinePath`` values resolve."""
        context = {PIPELINE_DIRECTORY: directory} if directory is not None else None
        return cls.Params.model_validate(dict(raw), context=context)


class Generator(Component, ABC, Generic[ParamsT]):
    """Makes a training problem (inputs, targets, measured δ)."""

    kind: ClassVar[str] = "generator"

    def shape(self, params: ParamsT) -> tuple[int, int, int, int]:
        """``(n, L, d_x, d)`` of the problems these parameters make, known without generating one
        (the store is laid out before any job runs). By default the parameters of those names;
        a generator whose sizes come from elsewhere overrides this."""
        return (params.n, params.L, params.d_x, params.d)

    @abstractmethod
    def generate(self, params: ParamsT, seed: int) -> Problem:
        """One problem (K = 1), float64 on the CPU, fully determined by ``params`` and ``seed``."""


class InitializerParams(Params):
    """Every initializer is told the hidden width m."""

    m: int = Field(ge=1, description="hidden width m")


InitializerParamsT = TypeVar("InitializerParamsT", bound=InitializerParams, default=InitializerParams,
                             covariant=True)


class Initializer(Component, ABC, Generic[InitializerParamsT]):
    """Makes the weights of one network of a model, from the model's ``WeightLayout`` (each weight's
    name and shape, in declaration order).

    ``dims`` says which models it can initialize: ``None`` (the default) for any model, whose
    declared weights it draws whatever they are; otherwise exactly the weights it knows (the
    Elman network's ``overparam.engine.ELMAN_DIMS`` for an initializer that builds W as a matrix of
    its own kind), and validation refuses it on a model that declares others.
    """

    kind: ClassVar[str] = "initializer"
    Params: ClassVar[type[ParamsSchema]] = InitializerParams
    dims: ClassVar[Mapping[str, tuple[str, ...]] | None] = None

    @abstractmethod
    def initialize(self, params: InitializerParamsT, layout: WeightLayout, seed: int) -> Weights:
        """One network's weights (K = 1) of ``layout``'s shapes, float64 on the CPU, determined
        by ``params`` and ``seed`` (``layout.weights`` builds them from plain tensors)."""


class OptimizerParams(Params):
    """What every optimizer takes: the number of steps, the learning rate, the trained weights.

    ``lr`` is a positive number; a pipeline file may write it as an expression in the grid
    axes and the data's and initializer's sizes (``0.05/m``), evaluated before validation, or
    as ``auto``: ``lr_fraction · 2/λ_max``, λ_max the top eigenvalue of the tangent kernel at
    initialization (``framework.engine.step_size``), measured per grid point before training.
    """

    steps: int = Field(ge=0, description="number of update steps")
    lr: Annotated[float, Field(gt=0)] | Literal["auto"] = Field(
        description="learning rate: a number, an expression such as 0.05/m, or auto (lr_fraction * 2/λ_max)")
    lr_fraction: float = Field(0.5, gt=0, le=1, description="with lr: auto, the fraction of 2/λ_max taken")

    @field_validator("lr", mode="wrap")
    @classmethod
    def _learning_rate(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> float | str:
        """One message for a bad learning rate, rather than one per member of its union type."""
        refuse_boolean_number(float, value)
        try:
            return handler(value)
        except ValidationError:
            raise PydanticCustomError("learning_rate", "should be a number greater than 0, or 'auto'") from None
    train: Literal["W", "WAB"] = Field("W", description="W alone (Theorems 1-2) or W, A and B")

    @property
    def trained(self) -> tuple[str, ...]:
        """The names of the trained weights."""
        return tuple(self.train)


OptimizerParamsT = TypeVar("OptimizerParamsT", bound=OptimizerParams, default=OptimizerParams, covariant=True)


class Optimizer(Component, ABC, Generic[OptimizerParamsT]):
    """Advances the weights of an ensemble by one step.

    ``start`` prepares whatever the rule keeps between steps (random streams, momenta) for the
    K members; ``step`` applies one update with the per-member learning rates ``lr [K]`` to the
    weights of ``network``. All members of one ensemble share ``params``; they differ in
    learning rate and seed.

    The weights and problem may carry zero padding (``framework.engine.padding``): neurons whose
    rows and columns are 0, and ``problem.padding`` zero sequences after the ``problem.n`` real
    ones. A rule that samples sequences samples from the real ones; a rule for which an entry
    that is 0, with a gradient of 0, stays 0 (gradient steps, momentum) leaves the padding inert.
    A rule that moves such entries (added noise, say) sets ``keeps_padding_zero = False``: its
    networks are then never padded, and those of unaligned shapes run one per task.

    A rule whose ``step`` is a pure function of the weights and learning rates (no host
    synchronization, nothing kept in Python between steps) sets ``capturable = True``: on a GPU
    its steps then run as one replayed CUDA graph (``framework.execution.captured_step``).

    A rule that steps on some of the sequences at a time (SGD) sets ``full_batch = False``: a
    network defined on the whole training set (a model's ``output_scale``, centered on each
    sequence's initial output) is then refused for it when the pipeline is validated.
    """

    kind: ClassVar[str] = "optimizer"
    Params: ClassVar[type[ParamsSchema]] = OptimizerParams
    keeps_padding_zero: ClassVar[bool] = True
    capturable: ClassVar[bool] = False
    full_batch: ClassVar[bool] = True

    def start(self, params: OptimizerParamsT, problem: Problem, seeds: Sequence[int]) -> Any:
        """The rule's state for an ensemble whose members have these seeds."""
        return None

    def network_for(self, params: OptimizerParamsT, network: Network, initial: Weights, problem: Problem) -> Network:
        """The network this rule trains from ``initial`` on ``problem``: the model's own (``network``)
        by default; a rule that trains something made from it returns that (``linearized``: the
        first-order model around ``initial``), and the training's diagnostics measure it."""
        return network

    @abstractmethod
    def step(self, params: OptimizerParamsT, state: Any, weights: Weights, problem: Problem, lr: Tensor,
             network: Network) -> Weights:
        """The weights after one update; ``network`` (``overparam.Network``) gives the loss, the
        gradient (``network.gradient(weights, problem, params.trained)``) and the forward pass
        of the network being trained, so a rule works for every model."""
