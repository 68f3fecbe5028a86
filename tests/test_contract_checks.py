"""The contract checker runs what can be run: a required parameter without a default is
flagged, and an initializer, optimizer or diagnostic that lets one member of an ensemble
change another's numbers is caught, against the correct components it is modelled on."""
from __future__ import annotations

import pytest
import torch
from pydantic import Field

from overparam import Diagnostic, Initializer, InitializerParams, Optimizer, Output, Params
from overparam.engine import closed_form_gradient, elman_weights, seeded_generator
from overparam.testing import check_component
from framework.plugin_system.registry import Registry


class SeededInit(Initializer):
    """N(0, 1/m) weights from the seed's own stream."""

    name = "seeded_init"

    def initialize(self, params, layout, seed):
        stream = seeded_generator(seed)
        m, d_x, d = params.m, layout.sizes["d_x"], layout.sizes["d"]
        return elman_weights(torch.randn(1, m, m, generator=stream, dtype=torch.float64) / m ** 0.5,
                             torch.randn(1, m, d_x, generator=stream, dtype=torch.float64) / m ** 0.5,
                             torch.randn(1, d, m, generator=stream, dtype=torch.float64))


class GlobalStreamInit(SeededInit):
    """The same distribution drawn from torch's global random stream."""

    name = "global_stream_init"

    def initialize(self, params, layout, seed):
        m, d_x, d = params.m, layout.sizes["d_x"], layout.sizes["d"]
        return elman_weights(torch.randn(1, m, m, dtype=torch.float64) / m ** 0.5,
                             torch.randn(1, m, d_x, dtype=torch.float64) / m ** 0.5,
                             torch.randn(1, d, m, dtype=torch.float64))


class PlainStep(Optimizer):
    """W <- W - lr ∇f(W), each member with its own learning rate."""

    name = "plain_step"

    def step(self, params, state, weights, problem, lr, network):
        gradient = closed_form_gradient(weights, problem, params.trained)["W"]
        return weights.replace(W=weights.W - lr.view(-1, 1, 1) * gradient)


class EnsembleNormalizedStep(PlainStep):
    """Normalizes the step by the gradient norm of the whole ensemble: members see each other."""

    name = "ensemble_normalized_step"

    def step(self, params, state, weights, problem, lr, network):
        gradient = closed_form_gradient(weights, problem, params.trained)["W"]
        return weights.replace(W=weights.W - lr.view(-1, 1, 1) * gradient / gradient.norm())


class DecayedStep(PlainStep):
    """A gradient step plus a pull of every entry towards 0.01: entries that are 0 move."""

    name = "decayed_step"

    def step(self, params, state, weights, problem, lr, network):
        stepped = PlainStep.step(self, params, state, weights, problem, lr, network)
        return stepped.replace(W=stepped.W + lr.view(-1, 1, 1) * (0.01 - stepped.W))


class DecayedStepUnpadded(DecayedStep):
    """The same rule, declaring that it does not keep zero padding at zero."""

    name = "decayed_step_unpadded"
    keeps_padding_zero = False


class MemberNorm(Diagnostic):
    """||W||_F of each member."""

    name = "member_norm"
    outputs = {"w_norm": Output("||W||_F", "§2")}

    def measure(self, params, probe):
        return {"w_norm": probe.weights.W.flatten(1).norm(dim=1)}


class EnsembleMean(MemberNorm):
    """||W||_F averaged over the ensemble: every member reads the others."""

    name = "ensemble_mean"

    def measure(self, params, probe):
        norms = probe.weights.W.flatten(1).norm(dim=1)
        return {"w_norm": norms.mean().expand_as(norms)}


class Undeclared(MemberNorm):
    """Returns an output it did not declare."""

    name = "undeclared"

    def measure(self, params, probe):
        return {"other": probe.weights.W.flatten(1).norm(dim=1)}


class NoDefaultParams(InitializerParams):
    gain: float = Field(gt=0, description="a gain without a default")


class NoDefault(SeededInit):
    """An initializer whose own parameter has no default."""

    name = "no_default"
    Params = NoDefaultParams


class WithDefaultParams(Params):
    every: int = Field(1, ge=1, description="a parameter with a default")


@pytest.mark.parametrize("component", [SeededInit, PlainStep, MemberNorm])
def test_components_that_keep_members_independent_pass(component):
    assert check_component(component) == []


def test_an_initializer_drawing_from_the_global_stream_is_caught():
    (problem,) = check_component(GlobalStreamInit)
    assert "other W, A, B for one seed" in problem and "seeded_generator" in problem


def test_an_optimizer_normalizing_by_the_ensemble_gradient_is_caught():
    (problem,) = check_component(EnsembleNormalizedStep)
    assert "a member's weights differ from its weights trained alone: W (member 0" in problem


def test_an_optimizer_that_moves_zero_padding_is_caught_unless_it_says_so():
    (problem,) = check_component(DecayedStep)
    assert "it moved the padded entries" in problem and "keeps_padding_zero = False" in problem
    assert check_component(DecayedStepUnpadded) == []


def test_a_diagnostic_averaging_over_the_ensemble_is_caught():
    (problem,) = check_component(EnsembleMean)
    assert "a member's outputs differ from its outputs alone: w_norm (member 0" in problem


def test_a_diagnostic_returning_an_undeclared_output_is_caught():
    (problem,) = check_component(Undeclared)
    assert "measure() returned ['other'], but outputs declares ['w_norm']" in problem


def test_a_required_parameter_without_a_default_is_flagged_but_not_the_framework_ones():
    (problem,) = check_component(NoDefault)
    assert "parameter 'gain' has no default" in problem
    assert "'m'" not in problem  # InitializerParams.m is the framework's: every pipeline gives it


def test_every_builtin_component_keeps_the_contract():
    # the example plugin's components are checked where it is pip-installed (test_plugins.py)
    registry = Registry(autoload=False)
    assert [entry.name for entry in registry.entries() if check_component(entry.component)] == []
    assert {"paper", "gd", "sgd", "semi_smoothness", "chain_norms"} <= {entry.name for entry in registry.entries()}
