"""The ensemble rule as a check, by running the component: a member of an ensemble computes, bit
for bit, what it computes alone.

The engine trains K grid points of one shape as one batched ensemble and splits the results
back, so a component must treat the leading axis K as K independent networks: no sums, norms
or stopping rules across members, no draws from torch's global random stream (draw from
``overparam.engine.seeded_generator(seed)`` or the probe's per-member streams). These checks run an
initializer, an optimizer or a diagnostic on a small problem twice, as a two-member ensemble
and as each member alone, and compare. The sizes are the engine's aligned ones (n and m
multiples of 8 in float64), for which the built-in arithmetic keeps the guarantee.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch
from pydantic import ValidationError

from framework.contract.components import Component, Initializer, Optimizer, Params
from framework.contract.diagnostic import Diagnostic, ProblemShape
from framework.engine.padding import Padding
from framework.contract.model import Model
from framework.engine.tensors import HIDDEN, WeightLayout, Problem, Weights
from framework.engine.inputs import FIRST_INPUT_LAST_COORDINATE, first_input_separation
from framework.engine.probe import Probe
from framework.engine.rnn import ELMAN_DIMS, Elman, closed_form_gradient, elman_weights, forward
from framework.engine.seeds import seeded_generator

if TYPE_CHECKING:
    from torch import Tensor

SIZES = ProblemShape(n=8, L=3, m=16, d_x=4, d=2, layers=3)
MEMBER_SEEDS = (11, 12)
LEARNING_RATES = (0.01, 0.02)
STEPS = 3
# what the framework's own parameter bases require of every pipeline: the check supplies them
FRAMEWORK_REQUIRED: dict[type[Component], dict[str, Any]] = {
    Initializer: {"m": SIZES.m},
    Optimizer: {"steps": STEPS, "lr": LEARNING_RATES[0]},
}


def example_problem(seed: int, shape: ProblemShape = SIZES) -> Problem:
    """A K = 1 problem following §2.1: inputs of norm 1, the first with last coordinate 1/sqrt(2)."""
    stream = seeded_generator(seed)
    X = torch.randn(shape.n, shape.L, shape.d_x, generator=stream, dtype=torch.float64)
    X = X / X.norm(dim=-1, keepdim=True)
    head = X[:, 0, :-1]
    X[:, 0, :-1] = head / head.norm(dim=-1, keepdim=True) * FIRST_INPUT_LAST_COORDINATE
    X[:, 0, -1] = FIRST_INPUT_LAST_COORDINATE
    Y = torch.randn(shape.n, shape.L, shape.d, generator=stream, dtype=torch.float64)
    delta = torch.tensor([first_input_separation(X)], dtype=torch.float64)
    return Problem(X[None], Y[None], delta)


def example_weights(seed: int, shape: ProblemShape = SIZES) -> Weights:
    """K = 1 weights drawn as Definition 2.3 draws them: W, A ~ N(0, 2/m), B ~ N(0, 1/d)."""
    stream = seeded_generator(seed)
    scale = math.sqrt(2 / shape.m)
    W = torch.randn(1, shape.m, shape.m, generator=stream, dtype=torch.float64) * scale
    A = torch.randn(1, shape.m, shape.d_x, generator=stream, dtype=torch.float64) * scale
    B = torch.randn(1, shape.d, shape.m, generator=stream, dtype=torch.float64) / math.sqrt(shape.d)
    return elman_weights(W, A, B)


def example_ensemble(members: Sequence[int]) -> tuple[Problem, Weights, Tensor]:
    """The example problems, initial weights and learning rates ``[K]`` of these members (indices
    into ``MEMBER_SEEDS``), stacked as one ensemble: what each member has, together or alone."""
    problem = Problem.stack([example_problem(MEMBER_SEEDS[k]) for k in members])
    weights = Weights.stack([example_weights(MEMBER_SEEDS[k] + 100) for k in members])
    lr = torch.tensor([LEARNING_RATES[k] for k in members], dtype=torch.float64)
    return problem, weights, lr


def example_params(cls: type[Component]) -> Params | None:
    """The component's default parameters, with what the framework's bases require filled in;
    ``None`` when the component requires more (the contract flags those fields)."""
    given = next((values for base, values in FRAMEWORK_REQUIRED.items() if issubclass(cls, base)), {})
    try:
        return cls.Params(**{key: value for key, value in given.items() if key in cls.Params.model_fields})
    except ValidationError:
        return None


def _identical(a: Tensor, b: Tensor) -> bool:
    """The same shape and the same numbers bit for bit, NaN where NaN."""
    return a.shape == b.shape and bool(((a == b) | (a.isnan() & b.isnan())).all())


def _differences(together: Mapping[str, Tensor], alone: list[Mapping[str, Tensor]]) -> list[str]:
    """The names whose member k differs from what member k computed alone."""
    differing = []
    for name, stacked in together.items():
        for k, own in enumerate(alone):
            mine, theirs = stacked[k : k + 1], own.get(name)
            if theirs is None or not _identical(mine, theirs):
                comparable = theirs is not None and theirs.shape == mine.shape
                gap = (mine - theirs).abs().nan_to_num(nan=0.0).max().item() if comparable else float("nan")
                differing.append(f"{name} (member {k}, largest difference {gap:.3g})")
                break
    return differing


def _run(check: Callable[[], list[str]], what: str) -> list[str]:
    """The check's problems, or one problem saying that running the component raised."""
    try:
        return check()
    except Exception as error:  # the component's own code: report it, do not crash the check
        return [f"{what} raised {type(error).__name__}: {error}"]


def check_initializer_ensemble(cls: type[Initializer]) -> list[str]:
    """One seed gives the same weights whatever was drawn before (torch's global stream
    included): the weights of a member do not depend on the other members."""
    params = example_params(cls)
    if params is None:
        return []

    def check() -> list[str]:
        component = cls()
        layout = WeightLayout(ELMAN_DIMS if cls.dims is None else cls.dims,
                        {HIDDEN: params.m, "d_x": SIZES.d_x, "d": SIZES.d})
        alone = component.initialize(params, layout, MEMBER_SEEDS[1])
        torch.manual_seed(12345)
        component.initialize(params, layout, MEMBER_SEEDS[0])
        torch.rand(7)
        after_another = component.initialize(params, layout, MEMBER_SEEDS[1])
        expected = {name: (1, *layout.shape(name)) for name in layout.dims}
        shapes = {name: tuple(alone[name].shape) if name in alone else None for name in expected}
        if shapes != expected:
            return [f"initialize(params, {layout}, seed) gave shapes {shapes}, expected {expected}"]
        differing = [name for name in expected if not torch.equal(getattr(alone, name), getattr(after_another, name))]
        if differing:
            return [f"initialize() gives other {', '.join(differing)} for one seed after other draws: draw from "
                    "overparam.engine.seeded_generator(seed), not torch's global random stream"]
        return []

    return _run(check, "initialize()")


def _weights(weights: Weights) -> dict[str, Tensor]:
    return dict(weights.tensors)


def check_optimizer_ensemble(cls: type[Optimizer]) -> list[str]:
    """Two members trained together for a few steps, with their own learning rates and seeds,
    end where each ends trained alone (on the network the optimizer trains: ``Optimizer.network_for``)."""
    params = example_params(cls)
    if params is None:
        return []

    def trained(members: list[int]) -> Weights:
        component = cls()
        problem, weights, lr = example_ensemble(members)
        network = component.network_for(params, Elman(), weights, problem)
        state = component.start(params, problem, [MEMBER_SEEDS[k] for k in members])
        for _ in range(STEPS):
            weights = component.step(params, state, weights, problem, lr, network)
        return weights

    def moves_padding() -> bool:
        """Whether a member padded with 8 zero neurons and 8 zero sequences (``framework.engine.padding``)
        has any padded entry other than 0 after a few steps."""
        component = cls()
        problem, weights, lr = example_ensemble([0])
        padding = Padding(SIZES.n, SIZES.m, SIZES.n + 8, SIZES.m + 8)
        problem, weights = padding.problem(problem), padding.weights(weights)
        network = component.network_for(params, Elman(), weights, problem)
        state = component.start(params, problem, [MEMBER_SEEDS[0]])
        for _ in range(STEPS):
            weights = component.step(params, state, weights, problem, lr, network)
        return padding.moved(weights)

    def check() -> list[str]:
        differing = _differences(_weights(trained([0, 1])), [_weights(trained([k])) for k in (0, 1)])
        if differing:
            return [f"trained as a two-member ensemble, a member's weights differ from its weights trained alone: "
                    f"{', '.join(differing)}; treat the leading axis K as independent networks"]
        if cls.keeps_padding_zero and moves_padding():
            return ["trained with zero padding (neurons whose rows and columns are 0, zero sequences after "
                    "problem.n), it moved the padded entries: keep an entry that is 0 with a gradient of 0 at 0 and "
                    "sample only the problem.n real sequences, or set keeps_padding_zero = False"]
        return []

    return _run(check, "start()/step()")


def check_diagnostic_ensemble(cls: type[Diagnostic]) -> list[str]:
    """Measured on a two-member ensemble a few GD steps from initialization, each member's
    outputs are those it gives alone, with one tensor ``[K, *dims]`` per declared output."""
    params = example_params(cls)
    if params is None:
        return []

    def measured(members: list[int]) -> dict[str, Tensor]:
        problem, weights0, lr = example_ensemble(members)
        weights, state = weights0, forward(weights0, problem)
        history = [state.loss]
        for _ in range(STEPS):
            gradient = closed_form_gradient(weights, problem, ("W",), state)
            weights = weights.replace(W=weights.W - lr.view(-1, 1, 1) * gradient["W"])
            state = forward(weights, problem)
            history.append(state.loss)
        # the Elman network provides everything a diagnostic may need (``Diagnostic.needs``)
        probe = Probe(weights, weights0, problem, network=Elman(), step=STEPS, history_steps=list(range(STEPS + 1)),
                      history_loss=torch.stack(history), seed=[MEMBER_SEEDS[k] for k in members], learning_rate=lr)
        return dict(cls().measure(params, probe))

    def check() -> list[str]:
        together = measured([0, 1])
        declared = set(cls.outputs)
        if set(together) != declared:
            return [f"measure() returned {sorted(together)}, but outputs declares {sorted(declared)}"]
        sizes = cls().dim_sizes(params, SIZES)
        wrong = [f"{name} {tuple(value.shape)} (expected {(2, *(sizes.get(d, '?') for d in cls.outputs[name].dims))})"
                 for name, value in together.items()
                 if tuple(value.shape) != (2, *(sizes.get(d, -1) for d in cls.outputs[name].dims))]
        if wrong:
            return [f"measure() returned tensors of the wrong shape: {', '.join(wrong)}"]
        differing = _differences(together, [measured([k]) for k in (0, 1)])
        if differing:
            return [f"measured on a two-member ensemble, a member's outputs differ from its outputs alone: "
                    f"{', '.join(differing)}; treat the leading axis K as independent networks"]
        return []

    return _run(check, "measure()")


def model_weights(model: Model, seed: int, shape: ProblemShape = SIZES) -> Weights:
    """K = 1 weights of the shapes ``model.dims`` declares, entries N(0, 1/fan-in)."""
    layout = model.weight_layout(shape.m, shape.d_x, shape.d)
    stream = seeded_generator(seed)
    return layout.weights({name: torch.randn(layout.shape(name), generator=stream, dtype=torch.float64)
                           / math.sqrt(layout.shape(name)[-1]) for name in layout.dims})


def check_model(cls: type[Model]) -> list[str]:
    """The forward pass has the declared layout; the gradient of the default-trained weights
    agrees with a central difference of the loss; a two-member ensemble's losses and gradients
    are each member's alone."""
    params = example_params(cls)
    if params is None:
        return []
    model = cls(params)
    try:
        model.weight_layout(SIZES.m, SIZES.d_x, SIZES.d)
    except ValueError as error:  # WeightLayout names the labels that neither sizes() nor the data size
        return [f"dims use labels that sizes() does not size: {error}"]
    unknown = sorted(set(cls.trained_by_default) - set(cls.dims))
    if unknown:
        return [f"trained_by_default names {unknown}, which dims does not declare"]

    def check() -> list[str]:
        problem = Problem.stack([example_problem(seed) for seed in MEMBER_SEEDS])
        weights = Weights.stack([model_weights(model, seed + 100) for seed in MEMBER_SEEDS])
        fwd = model.forward(weights, problem)
        K, n, m = 2, SIZES.n, SIZES.m
        if fwd.h_layers.dim() != 4 or tuple(fwd.h_layers.shape[1:]) != (K, n, m) or fwd.g_layers.shape != fwd.h_layers.shape:
            return [f"forward() gave g_layers {tuple(fwd.g_layers.shape)} and h_layers {tuple(fwd.h_layers.shape)}; "
                    f"expected both [layers, K={K}, n={n}, m={m}]"]
        if fwd.residual_members.dim() != 4 or tuple(fwd.residual_members.shape[::2]) != (K, n) \
                or fwd.residual_members.shape[3] != SIZES.d:
            return [f"forward() gave residual_members {tuple(fwd.residual_members.shape)}; expected [K={K}, P, n={n}, "
                    f"d={SIZES.d}]"]
        trained = cls.trained_by_default
        gradient = model.gradient(weights, problem, trained)
        stream = seeded_generator(7)
        direction = {name: torch.randn(weights[name].shape, generator=stream, dtype=torch.float64) for name in trained}
        eps = 1e-6
        moved = [model.loss(weights.replace(**{name: weights[name] + sign * eps * v for name, v in direction.items()}),
                            problem) for sign in (1.0, -1.0)]
        slope = sum((gradient[name] * v).flatten(1).sum(dim=1) for name, v in direction.items())
        difference = (moved[0] - moved[1]) / (2 * eps)
        if not torch.allclose(slope, difference, rtol=1e-5, atol=1e-7):
            return [f"gradient() disagrees with a central difference of loss(): <grad f, v> = {slope.tolist()}, "
                    f"(f(w + eps v) - f(w - eps v)) / 2 eps = {difference.tolist()}"]
        for k in range(K):
            alone = model.gradient(weights.member(k), problem.member(k), trained)
            if any(not torch.allclose(gradient[name][k : k + 1], alone[name], rtol=1e-12, atol=1e-14)
                   for name in trained):
                return [f"member {k}'s gradient in a two-member ensemble differs from its gradient alone; "
                        "treat the leading axis K as independent networks"]
        return []

    return _run(check, "forward()/gradient()")
