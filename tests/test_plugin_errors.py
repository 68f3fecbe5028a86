"""Exceptions raised by plugin code while a pipeline is validated or planned end with exit 2
and one message naming the stage, the component, its provider and the exception: never a
traceback."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from framework.cli.commands import main

TEMPLATE = """\
name: broken-plugin
plugins: [broken_shape_plugin]
stages:
  data: {{plugin: {generator}}}
  init: {{plugin: paper, params: {{m: 8}}}}
  train: {{plugin: gd, params: {{steps: 3, lr: 0.01}}, needs: [data, init]}}
  diagnose: {{plugins: [{diagnostic}], needs: [train]}}
"""


@pytest.fixture(autouse=True)
def plugin_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "data"))


def run(tmp_path: Path, command: str, generator: str, diagnostic: str = "loss") -> tuple[int, list[str]]:
    path = tmp_path / "broken.yaml"
    path.write_text(TEMPLATE.format(generator=generator, diagnostic=diagnostic))
    result = CliRunner().invoke(main, [command, str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result.exit_code, result.output.strip().splitlines()


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_a_generator_without_shape_exits_2_naming_it_and_its_provider(tmp_path, command):
    code, lines = run(tmp_path, command, "sized")
    assert code == 2
    assert lines == ["broken.yaml:4 stages.data: generator 'sized' from module broken_shape_plugin raised "
                     "AttributeError: 'SizeParams' object has no attribute 'n' in shape(params); a generator whose "
                     "sizes are not parameters named n, L, d_x, d must override Generator.shape(params) to return "
                     "them (docs/plugins.md)"]


def test_a_shape_that_raises_exits_2_with_the_exception_text(tmp_path):
    code, lines = run(tmp_path, "validate", "from_file")
    assert code == 2 and len(lines) == 1
    assert "stages.data: generator 'from_file' from module broken_shape_plugin raised FileNotFoundError" in lines[0]
    assert "missing.npz" in lines[0]


def test_a_parameter_validator_that_raises_exits_2(tmp_path):
    code, lines = run(tmp_path, "validate", "picky")
    assert code == 2 and len(lines) == 1
    assert ("stages.data: generator 'picky' from module broken_shape_plugin raised KeyError: 'missing key' in "
            "validating its parameters") in lines[0]


def test_a_diagnostic_whose_dim_sizes_raises_exits_2(tmp_path):
    code, lines = run(tmp_path, "validate", "separable", diagnostic="sizeless")
    assert code == 2 and len(lines) == 1
    assert ("stages.diagnose: diagnostic 'sizeless' from module broken_shape_plugin raised ZeroDivisionError: "
            "no slots today in dim_sizes(params, shape)") in lines[0]
