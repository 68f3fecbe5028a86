"""Numeric parameters refuse booleans: YAML's ``true`` is not the number 1.

pydantic's lax mode takes ``True`` for 1 and 1.0, so before the shared parameter base refused
them ``n: true`` made one sequence and ``m: [64, true]`` a network of width 1. A quoted number
is an expression, like ``"0.05/m"``, and evaluates to its value.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import Field, ValidationError

from overparam import Generator, Params
from framework.cli.commands import main
from framework.planning.plan import plan_file

PIPELINE = """\
name: booleans
grid:
  m: {m}
stages:
  data: {{plugin: separable, params: {{n: {n}, L: 4, d_x: 4, d: 2, delta: {delta}}}}}
  init: {{plugin: paper, params: {{m: "${{grid.m}}"}}}}
  train: {{plugin: gd, params: {{steps: 10, lr: {lr}}}, needs: [data, init]}}
  diagnose: {{plugins: [loss], needs: [train]}}
"""
GOOD = {"m": "[16, 32]", "n": "4", "delta": "0.2", "lr": "0.05/m"}


def validate(tmp_path: Path, **changes: str) -> tuple[int, str]:
    path = tmp_path / "booleans.yaml"
    path.write_text(PIPELINE.format(**{**GOOD, **changes}))
    result = CliRunner().invoke(main, ["validate", str(path)])
    return result.exit_code, result.output


def test_the_unchanged_pipeline_is_valid(tmp_path):
    code, output = validate(tmp_path)
    assert code == 0, output


@pytest.mark.parametrize("key, value, line, path", [
    ("n", "true", 5, "stages.data.params.n"),
    ("delta", "true", 5, "stages.data.params.delta"),
    ("lr", "true", 7, "stages.train.params.lr"),
    ("lr", "false", 7, "stages.train.params.lr"),
])
def test_a_boolean_component_parameter_exits_2_naming_file_line_and_key(tmp_path, key, value, line, path):
    code, output = validate(tmp_path, **{key: value})
    assert code == 2
    assert f"booleans.yaml:{line} {path}: {value}: a boolean (true/false), expected a number" in output
    assert "Traceback" not in output


def test_a_boolean_among_the_numbers_of_a_grid_axis_is_refused_at_the_axis(tmp_path):
    code, output = validate(tmp_path, m="[64, true]")
    assert code == 2
    assert "booleans.yaml:3 grid.m: item [1] is a boolean" in output


def test_a_grid_of_booleans_alone_still_feeds_a_boolean_parameter(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "data"))
    # booleans are values in their own right (the test plugin's explode flag, say): only
    # booleans standing for numbers are refused
    path = tmp_path / "flags.yaml"
    path.write_text("name: flags\nplugins: [flaky_plugin]\ngrid:\n  explode: [false, true]\nstages:\n"
                    "  data: {plugin: flaky, params: {explode: '${grid.explode}'}}\n"
                    "  init: {plugin: paper, params: {m: 8}}\n"
                    "  train: {plugin: gd, params: {steps: 2, lr: 0.01}, needs: [data, init]}\n")
    plan = plan_file(path)
    assert [job.data.params.explode for job in plan.jobs] == [False, True]


def test_a_quoted_number_is_an_expression_and_gives_its_value(tmp_path):
    path = tmp_path / "quoted.yaml"
    path.write_text(PIPELINE.format(**{**GOOD, "n": '"6"', "lr": '"1e-3"'}))
    job = plan_file(path).jobs[0]
    assert job.data.params.n == 6 and isinstance(job.data.params.n, int)
    assert job.trainings[0].call.params.lr == 1e-3


class ThirdPartyParams(Params):
    """A plugin author's schema: it inherits the refusal without writing anything for it."""

    count: int = Field(3, ge=1, description="a count")
    scale: float = Field(1.0, description="a scale")
    sizes: tuple[int, ...] = Field((2,), description="sizes")
    either: int | str = Field(1, description="a number or a word")
    enabled: bool = Field(False, description="a real boolean")


class ThirdParty(Generator):
    """A third-party generator with that schema."""

    name = "third_party"
    Params = ThirdPartyParams

    def generate(self, params, seed):
        raise NotImplementedError


@pytest.mark.parametrize("raw, key", [
    ({"count": True}, "count"),
    ({"scale": False}, "scale"),
    ({"sizes": [4, True]}, "sizes"),
    ({"either": True}, "either"),
])
def test_a_third_party_schema_refuses_booleans_for_its_numbers(raw, key):
    with pytest.raises(ValidationError) as caught:
        ThirdPartyParams.model_validate(raw)
    (error,) = caught.value.errors()
    assert error["loc"] == (key,) and error["type"] == "boolean_not_number"


THIRD_PARTY_PLUGIN = """\
from pydantic import Field
from overparam import Generator, Params, hookimpl


class CountParams(Params):
    count: int = Field(3, ge=1, description="a count")
    enabled: bool = Field(False, description="a real boolean")


class Counting(Generator):
    \"\"\"A third-party generator whose schema says nothing about booleans.\"\"\"

    name = "counting"
    Params = CountParams

    def shape(self, params):
        return (params.count, 4, 4, 2)

    def generate(self, params, seed):
        raise NotImplementedError


@hookimpl
def overparam_register_generators():
    return [Counting]
"""


@pytest.mark.parametrize("params, refused", [
    ("{count: true, enabled: true}", "stages.data.params.count: true: a boolean (true/false), expected a number"),
    ("{count: 2, enabled: true}", None),
])
def test_a_third_party_boolean_field_takes_booleans_and_the_message_spells_yaml(tmp_path, plugin_module,
                                                                                  params, refused):
    assert ThirdPartyParams(enabled=True).enabled is True
    plugin_module("third_party_counting", THIRD_PARTY_PLUGIN)
    path = tmp_path / "counting.yaml"
    path.write_text("name: counting\nplugins: [third_party_counting]\nstages:\n"
                    f"  data: {{plugin: counting, params: {params}}}\n"
                    "  init: {plugin: paper, params: {m: 8}}\n"
                    "  train: {plugin: gd, params: {steps: 2, lr: 0.01}, needs: [data, init]}\n")
    result = CliRunner().invoke(main, ["validate", str(path)])
    if refused is None:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code == 2
        assert f"counting.yaml:4 {refused}" in result.output
        assert "Traceback" not in result.output
