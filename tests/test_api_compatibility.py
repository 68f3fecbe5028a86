"""The plugin contract survives upgrades: a plugin written for an older contract is refused when
it loads, naming each method, both signatures and the migration note (never a scan that
validates and then fails at every grid point); plugins may declare the versions they support;
the first release's imports (``from framework import ...``) still load, with a warning that says
where each name lives now."""
from __future__ import annotations

import importlib
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

import overparam
from framework.cli.commands import main
from framework.plugin_system.registry import Registry
from framework.plugin_system.signatures import accepts_contract_call

DATA = Path(__file__).parent / "data"
pytestmark = pytest.mark.filterwarnings("ignore:`from framework import:DeprecationWarning")  # the fixture's own imports
FIRST_RELEASE_PIPELINE = """\
name: first-release
plugins: [first_release_plugin]
stages:
  data: {{plugin: separable, params: {{n: 4, L: 4, d_x: 4, d: 2, delta: 0.2}}}}
  init: {{plugin: {init}, params: {{m: 8}}}}
  train: {{plugin: {optimizer}, params: {{steps: 3, lr: 0.01}}, needs: [data, init]}}
  diagnose: {{plugins: [loss], needs: [train]}}
"""


@pytest.fixture(autouse=True)
def data_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(DATA))


def cli(*arguments: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(arguments))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result.exit_code, result.output


@pytest.mark.parametrize("command", ["validate", "plan", "run"])
def test_the_first_release_initializer_is_refused_naming_both_signatures(tmp_path: Path, command: str) -> None:
    path = tmp_path / "first.yaml"
    path.write_text(FIRST_RELEASE_PIPELINE.format(init="gaussian_gain_v1", optimizer="gd"))
    code, output = cli(command, str(path))
    assert code == 2
    assert "gaussian_gain_v1" in output and "first_release_plugin" in output
    assert "initialize(self, params, d_x, d, seed)" in output
    assert "initialize(self, params, layout, seed)" in output
    assert "API version 2: initializers draw a model's declared weights" in output
    assert not (tmp_path / "results").exists()  # nothing computed, nothing written


def test_the_first_release_optimizer_is_refused_naming_step_and_network(tmp_path: Path) -> None:
    path = tmp_path / "first.yaml"
    path.write_text(FIRST_RELEASE_PIPELINE.format(init="paper", optimizer="heavy_ball_v1"))
    code, output = cli("validate", str(path))
    assert code == 2
    assert "step(self, params, state, weights, problem, lr)" in output
    assert "step(self, params, state, weights, problem, lr, network)" in output
    assert "optimizers step through the network" in output


def test_overparam_plugins_lists_the_refusal_and_exits_2() -> None:
    code, output = cli("plugins", "--plugin", "first_release_plugin")
    assert code == 2
    refusals = [line for line in output.splitlines() if line.startswith("error:")]
    assert any("gaussian_gain_v1" in line and "initialize(self, params, d_x, d, seed)" in line for line in refusals)
    assert any("heavy_ball_v1" in line and "step(self, params, state, weights, problem, lr)" in line
               for line in refusals)


def test_a_refused_component_is_not_registered_and_its_lookup_says_why() -> None:
    registry = Registry(["first_release_plugin"], autoload=False)
    assert "gaussian_gain_v1" not in registry.names("initializer")
    with pytest.raises(overparam.PluginError, match=r"initialize\(self, params, d_x, d, seed\)"):
        registry.get("initializer", "gaussian_gain_v1")


VERSIONED = """\
from overparam import Generator, hookimpl
from plugins.separable import Separable

OVERPARAM_API = {versions}


class Renamed(Separable):
    \"\"\"The built-in separable data under another name.\"\"\"

    name = "{name}"


@hookimpl
def overparam_register_generators() -> list[type[Generator]]:
    return [Renamed]
"""


def test_a_plugin_outside_its_declared_versions_is_refused_as_a_whole(plugin_module) -> None:
    plugin_module("old_versions", VERSIONED.format(versions="(1, 2)", name="old_data"))
    registry = Registry(["old_versions"], autoload=False)
    assert "old_data" not in registry.names("generator")
    message = str(registry.problems[0])
    assert "supports overparam API versions 1, 2" in message and f"API version {overparam.API_VERSION}" in message


def test_a_plugin_that_declares_this_version_loads(plugin_module) -> None:
    plugin_module("this_version", VERSIONED.format(versions=overparam.API_VERSION, name="new_data"))
    registry = Registry(["this_version"], autoload=False)
    assert not registry.problems and "new_data" in registry.names("generator")


@pytest.mark.parametrize(("contract", "override", "accepted"), [
    ("def f(self, params, layout, seed): ...", "def f(self, params, layout, seed): ...", True),
    ("def f(self, params, layout, seed): ...", "def f(self, params, layout, seed, extra=1): ...", True),
    ("def f(self, params, layout, seed): ...", "def f(self, *args, **kwargs): ...", True),
    ("def f(self, params, layout, seed): ...", "def f(self, params, d_x, d, seed): ...", False),
    ("def f(self, params, layout, seed): ...", "def f(self, params, seed, layout): ...", False),
    ("def f(self, params, layout, seed): ...", "def f(self, params, layout): ...", False),
    ("def f(self, params, layout, seed): ...", "def f(self, params, layout, seed, extra): ...", False),
    ("def f(self, params, *, seed): ...", "def f(self, params, **options): ...", True),
])
def test_an_override_must_take_every_call_the_contract_allows(contract: str, override: str, accepted: bool) -> None:
    """Checked against calling both: a signature is accepted exactly when the contract's call
    by position and by name both bind to it."""
    spaces: list[dict] = [{}, {}]
    exec(contract, spaces[0])
    exec(override, spaces[1])
    assert accepts_contract_call(spaces[1]["f"], spaces[0]["f"]) is accepted


def test_the_first_release_imports_still_load_with_a_warning_naming_the_new_place() -> None:
    framework = importlib.import_module("framework")
    with pytest.warns(DeprecationWarning, match=r"from overparam import Generator"):
        generator = framework.Generator
    assert generator is overparam.Generator
    with pytest.warns(DeprecationWarning, match=r"from overparam.engine import closed_form_gradient"):
        gradient = framework.closed_form_gradient
    assert gradient is overparam.engine.closed_form_gradient


def test_a_name_that_left_the_public_api_loads_with_a_warning_saying_so() -> None:
    framework = importlib.import_module("framework")
    with pytest.warns(DeprecationWarning, match="no longer part of the public API"):
        registry_class = framework.Registry
    assert registry_class is Registry


def test_the_current_api_imports_without_a_deprecation() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        from overparam import Generator, Initializer  # noqa: F401
        from overparam.claims import ScalingLawClaim  # noqa: F401
        from overparam.engine import Elman  # noqa: F401


PUBLIC_MODULES = ("overparam", "overparam.engine", "overparam.claims", "overparam.testing")
MAX_TOP_LEVEL_NAMES = 50


def test_the_top_level_is_small_and_every_public_name_loads() -> None:
    assert len(overparam.__all__) <= MAX_TOP_LEVEL_NAMES
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        missing = [name for name in module.__all__ if getattr(module, name, None) is None]
        assert not missing, f"{module_name} exports names that do not load: {missing}"
        assert set(module.__all__) <= set(dir(module)), f"{module_name}: dir() hides public names from completion"


def test_type_checkers_see_the_names_the_runtime_loads() -> None:
    """The ``if TYPE_CHECKING:`` imports of each lazy public module (what mypy and IDEs read)
    import exactly the names its ``_EXPORTS`` load at run time, each from the same module, and
    the package ships ``py.typed``."""
    import ast

    root = Path(overparam.__file__).parent
    assert (root / "py.typed").is_file()
    for module_name in ("overparam", "overparam.engine", "overparam.claims"):
        module = importlib.import_module(module_name)
        tree = ast.parse(Path(module.__file__).read_text())
        seen: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
                for statement in node.body:
                    if isinstance(statement, ast.ImportFrom):
                        seen.update({alias.asname or alias.name: statement.module for alias in statement.names})
        assert seen == module._EXPORTS, f"{module_name}: TYPE_CHECKING imports and _EXPORTS differ"


def test_the_first_release_testing_helpers_still_import_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    import overparam.testing

    monkeypatch.delitem(sys.modules, "framework.testing", raising=False)
    with pytest.warns(DeprecationWarning, match="import overparam.testing instead"):
        old = importlib.import_module("framework.testing")
    assert old.assert_component_contract is overparam.testing.assert_component_contract
