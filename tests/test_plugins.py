"""The plugin system: discovery through entry points and pipeline modules, the errors for
broken and duplicate plugins, the contract check, parameter validation, ``overparam plugins``.

The example third-party package (examples/plugin) is really installed with pip, into a
temporary directory put on ``sys.path`` for the tests that need it, so the shared virtual
environment is left as it was.
"""
from __future__ import annotations

import ast
import math
import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import xarray as xr
from click.testing import CliRunner

from overparam import Diagnostic, Generator, Output, Params, Problem, Weights
from overparam.engine import Elman, closed_form_gradient, train
from overparam.testing import check_component
from framework.plugin_system.registry import DuplicateComponentError, PluginLoadError, Registry, UnknownComponentError
from framework.cli.commands import main
from framework.configuration.source import PipelineError, read_source
from framework.planning.plan import plan_source
from framework.plugin_system.registry import AUTOLOAD_ENV
from overparam.testing import assert_component_contract, assert_discovered
from scans import overparam, write_pipeline

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "plugin"
EXAMPLE_SOURCE = "overparam-example-plugin 0.1.0"
EXAMPLE_COMPONENTS = {
    "generator": "sine_waves",
    "initializer": "gaussian_gain",
    "optimizer": "heavy_ball",
    "diagnostic": "w_spectral_norm",
    "model": "looped",
}
BUILTINS = {
    "generator": {"separable", "token_map", "digits"},
    "initializer": {"paper", "orthogonal", "identity"},
    "optimizer": {"gd", "sgd", "minibatch"},
    "model": {"elman"},
}


@pytest.fixture(scope="session")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory into which pip installed the example package (a copy of its sources, so no
    build files land in the repository)."""
    source = tmp_path_factory.mktemp("example-source") / "plugin"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    site = tmp_path_factory.mktemp("example-site")
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
               "--no-index", "--target", str(site), str(source)]
    installed = subprocess.run(command, capture_output=True, text=True)
    if installed.returncode != 0:
        pytest.fail(f"pip install of the example plugin failed:\n{installed.stderr}")
    return site


@pytest.fixture
def with_example(example_site: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The pip-installed example package visible to importlib.metadata for one test."""
    monkeypatch.syspath_prepend(str(example_site))
    return example_site


CONSTANT_GENERATOR = """
    import torch
    from pydantic import Field
    from overparam import Generator, Params, Problem, hookimpl

    class ConstantParams(Params):
        n: int = Field(2, ge=1, description="number of sequences")

    class Constant(Generator):
        '''Every input equal to e_1, every target 1.'''
        name = "{name}"
        Params = ConstantParams

        def generate(self, params, seed):
            X = torch.zeros(1, params.n, 3, 2, dtype=torch.float64)
            X[..., 0] = 1.0
            return Problem(X, torch.ones(1, params.n, 3, 1, dtype=torch.float64), torch.tensor([0.0]))

    @hookimpl
    def overparam_register_generators():
        return [Constant]
"""


# --- discovery ----------------------------------------------------------------------------

def test_every_built_in_components_one_line_description_is_a_whole_paragraph() -> None:
    """``overparam plugins`` shows a docstring's first line: it must be the docstring's whole first
    paragraph, not a sentence cut where the line broke (the ``paper`` initializer's was)."""
    cut = [entry.name for entry in Registry(autoload=False).entries()
           if entry.provider.source == "built-in" and entry.kind != "claim"
           and len((entry.component.__doc__ or "").strip().split("\n\n")[0].splitlines()) != 1]
    assert not cut, f"descriptions cut at the end of a line: {cut}"


def test_builtins_are_the_entry_points_declared_in_pyproject() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["overparam"]
    registry = Registry(autoload=False)
    for kind, names in BUILTINS.items():
        assert names <= set(registry.names(kind))
        for name in names:
            entry = next(e for e in registry.entries(kind) if e.name == name)
            assert entry.provider.source == "built-in"
            assert entry.provider.plugin in declared
            assert declared[entry.provider.plugin] == entry.component.__module__


def test_core_never_imports_the_builtin_plugins() -> None:
    """No module of framework/ or overparam/, at any depth, imports the built-in plugins, by an
    import statement or by a module name given as text (``importlib.import_module("plugins.x")``):
    they register through entry points, as a third-party package would."""
    files = sorted([*(ROOT / "framework").rglob("*.py"), *(ROOT / "overparam").rglob("*.py")])
    assert len(files) > 80  # every layer's modules, not the top folder's two
    found = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("plugins."):
                modules = [node.value]  # a dotted module name as text ("plugins" alone is a pipeline key)
            else:
                continue
            found += [f"{path.relative_to(ROOT)}:{node.lineno} {m}" for m in modules
                      if m == "plugins" or m.startswith("plugins.")]
    assert not found, "\n".join(found)


def test_pip_installed_example_is_discovered_with_its_distribution(with_example: Path) -> None:
    registry = Registry()
    for kind, name in EXAMPLE_COMPONENTS.items():
        entry = next(e for e in registry.entries(kind) if e.name == name)
        assert entry.provider.source == EXAMPLE_SOURCE
        assert entry.component.__module__.startswith("overparam_example.")
        assert Path(sys.modules[entry.component.__module__].__file__).is_relative_to(with_example)


def test_example_components_pass_the_authors_helpers(with_example: Path) -> None:
    registry = Registry()
    for kind, name in EXAMPLE_COMPONENTS.items():
        component = registry.get(kind, name)
        assert_component_contract(component)
        assert_discovered(component, registry)


def test_autoload_off_loads_builtins_only(with_example: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "sine_waves" in Registry().names("generator")
    monkeypatch.setenv(AUTOLOAD_ENV, "1")
    registry = Registry()
    assert "sine_waves" not in registry.names("generator")
    assert BUILTINS["generator"] <= set(registry.names("generator"))
    assert "sine_waves" in Registry(autoload=True).names("generator")


def test_blocked_plugins_are_not_loaded(with_example: Path) -> None:
    registry = Registry(blocked=["overparam_example", "token_map"])
    assert "heavy_ball" not in registry.names("optimizer")
    assert "token_map" not in registry.names("generator")
    assert "separable" in registry.names("generator")


def test_module_named_in_a_pipeline_is_loaded(plugin_module) -> None:
    name = plugin_module("my_lab_plugin", CONSTANT_GENERATOR.format(name="constant"))
    registry = Registry([name], autoload=False)
    component = registry.get("generator", "constant")
    entry = next(e for e in registry.entries("generator") if e.name == "constant")
    assert entry.provider.source == f"module {name}"
    problem = component().generate(component.parse_params({"n": 3}), seed=0)
    assert problem.X.shape == (1, 3, 3, 2)
    assert not registry.problems


# --- errors -------------------------------------------------------------------------------

def test_duplicate_name_error_names_both_providers(plugin_module) -> None:
    name = plugin_module("second_separable", CONSTANT_GENERATOR.format(name="separable"))
    registry = Registry([name], autoload=False)
    duplicates = [p for p in registry.problems if isinstance(p, DuplicateComponentError)]
    assert len(duplicates) == 1
    with pytest.raises(DuplicateComponentError) as raised:
        registry.get("generator", "separable")
    message = str(raised.value)
    assert "generator 'separable'" in message
    assert "built-in (separable)" in message and f"module {name}" in message
    assert "token_map" in registry.names("generator")


def test_broken_module_is_reported_with_its_name_and_error(plugin_module) -> None:
    name = plugin_module("needs_missing", "import not_a_real_dependency_xyz\n")
    registry = Registry([name], autoload=False)
    failures = [p for p in registry.problems if isinstance(p, PluginLoadError) and p.provider.plugin == name]
    assert len(failures) == 1
    message = str(failures[0])
    assert f"module {name}" in message
    assert "ModuleNotFoundError: No module named 'not_a_real_dependency_xyz'" in message
    assert BUILTINS["generator"] <= set(registry.names("generator"))


def test_broken_distribution_is_reported_with_distribution_and_error(tmp_path: Path, monkeypatch) -> None:
    info = tmp_path / "broken_dist-1.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-dist\nVersion: 1.2\n")
    (info / "entry_points.txt").write_text("[overparam]\nbroken = broken_plugin_module\n")
    (tmp_path / "broken_plugin_module.py").write_text("raise RuntimeError('half-finished plugin')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = Registry()
    failures = [p for p in registry.problems if isinstance(p, PluginLoadError) and p.provider.plugin == "broken"]
    assert len(failures) == 1
    assert "broken-dist 1.2" in str(failures[0])
    assert "RuntimeError: half-finished plugin" in str(failures[0])
    with pytest.raises(UnknownComponentError, match="broken-dist 1.2"):
        registry.get("generator", "half_finished")


def test_misspelled_hook_is_refused_with_a_suggestion(plugin_module) -> None:
    name = plugin_module("typo_plugin", """
        from overparam import hookimpl

        @hookimpl
        def overparam_register_generator():
            return []
    """)
    registry = Registry([name], autoload=False)
    failures = [p for p in registry.problems if isinstance(p, PluginLoadError) and p.provider.plugin == name]
    assert len(failures) == 1
    assert "unknown hook 'overparam_register_generator'; did you mean 'overparam_register_generators'?" in str(
        failures[0])
    assert not registry.pm.has_plugin(name)


def test_unknown_name_lists_the_known_ones_and_suggests() -> None:
    registry = Registry(autoload=False)
    with pytest.raises(UnknownComponentError) as raised:
        registry.get("generator", "seperable")
    message = str(raised.value)
    assert message.startswith("unknown generator 'seperable'; did you mean 'separable'?; known generators: ")
    assert all(name in message for name in BUILTINS["generator"])


# --- contract -----------------------------------------------------------------------------

@pytest.mark.parametrize("kind, name", sorted((k, n) for k, names in BUILTINS.items() for n in names))
def test_every_builtin_satisfies_the_contract(kind: str, name: str) -> None:
    assert check_component(Registry(autoload=False).get(kind, name)) == []


def test_every_registered_diagnostic_satisfies_the_contract() -> None:
    registry = Registry(autoload=False)
    for entry in registry.entries("diagnostic"):
        assert check_component(entry.component) == []


def test_contract_check_finds_each_violation() -> None:
    from pydantic import Field

    class SloppyParams(Params):
        n: int = Field(0, ge=1, description="a default out of its own bounds")
        size: int = 3
        ratio: float = Field(0.5, ge=2, le=1, description="bounds that leave nothing")

    class Sloppy(Generator):
        name = "Not A Name"
        Params = SloppyParams

    problems = "\n".join(check_component(Sloppy))
    assert "name 'Not A Name'" in problems
    assert "one-line description" in problems
    assert "abstract methods not implemented: generate" in problems
    assert "parameter 'n': default 0 is invalid" in problems
    assert "parameter 'size' needs a description" in problems
    assert "parameter 'ratio': bounds >= 2 and <= 1 leave no valid value" in problems

    class Silent(Diagnostic):
        """Declares nothing it measures."""

        name = "silent"
        outputs = {"x": Output(long_name="x", paper_ref="")}
        when = "sometimes"

        def measure(self, params, probe):
            return {}

    problems = "\n".join(check_component(Silent))
    assert "output 'x' needs a paper_ref" in problems
    assert "when 'sometimes' must be one of init, schedule, end" in problems


def refusals(data: str, init: str = "{plugin: paper, params: {m: 8}}") -> list[str]:
    """What validating a pipeline with these data and init stages reports, one line a problem."""
    text = (f"name: t\nstages:\n  data: {data}\n  init: {init}\n"
            "  train: {plugin: gd, params: {steps: 2, lr: 0.01}, needs: [data, init]}\n")
    with pytest.raises(PipelineError) as raised:
        plan_source(read_source(text, "t.yaml"), Registry(autoload=False))
    return str(raised.value).splitlines()


def test_parameters_out_of_bounds_are_refused_with_the_key_path() -> None:
    assert refusals("{plugin: separable, params: {delta: 1.5, nn: 3}}") == [
        "t.yaml:3 stages.data.params.delta: 1.5: should be less than or equal to 1",
        "t.yaml:3 stages.data.params.nn: unknown parameter of generator 'separable'; did you mean 'n'?; "
        "it takes n, L, d_x, d, delta, input_norm_min, input_norm_max, target_scale, shared_tail, tight",
    ]
    data = "{plugin: token_map, params: {mapping: [{token: 1, position: 0, output: 0, at: 3}]}}"
    assert refusals(data, init="{plugin: orthogonal, params: {scale: 1.0}}") == [
        "t.yaml:3 stages.data.params.mapping[0].position: 0: should be greater than or equal to 1",
        "t.yaml:4 stages.init.params.m: required, not given",
    ]


# --- the example components, run with the engine -------------------------------------------

@dataclass(frozen=True)
class WeightsProbe:
    """The one probe attribute the example diagnostic documents that it reads."""

    weights: Weights


def make(registry: Registry, kind: str, name: str, **raw):
    component = registry.get(kind, name)
    return component(), component.parse_params(raw)


def test_example_components_train_a_network(with_example: Path) -> None:
    registry = Registry()
    generator, data_params = make(registry, "generator", "sine_waves", n=6, L=6)
    problem: Problem = generator.generate(data_params, seed=1)
    first = problem.X[0, :, 0]
    assert torch.allclose(first.norm(dim=-1), torch.ones(6, dtype=torch.float64))
    assert torch.allclose(first[:, -1], torch.full((6,), 1 / math.sqrt(2), dtype=torch.float64))
    assert torch.allclose(problem.Y[0, :, :-1], problem.X[0, :, 1:, :1] * math.sqrt(2))  # next sample

    initializer, init_params = make(registry, "initializer", "gaussian_gain", m=256)
    weights = initializer.initialize(init_params, Elman().weight_layout(256, problem.d_x, problem.d), seed=2)
    optimizer, opt_params = make(registry, "optimizer", "heavy_ball", steps=300, lr=0.01 / 256, momentum=0.5)
    trajectory = train(optimizer, opt_params, weights, problem, torch.tensor([0.01 / 256]), [0], [0, 300], Elman())
    assert trajectory.loss[-1, 0] < 0.5 * trajectory.loss[0, 0]

    diagnostic, diag_params = make(registry, "diagnostic", "w_spectral_norm")
    measured = diagnostic.measure(diag_params, WeightsProbe(weights))["w_spectral_norm"]
    assert measured.shape == (1,)
    assert abs(float(measured[0]) - 2 * math.sqrt(2)) < 0.25  # ||W0||_2 -> 2 sqrt(2) for N(0, 2/m)


EXAMPLE_PIPELINE = """\
name: example-plugin
grid:
  momentum: [0.0, 0.5]
stages:
  data: {plugin: sine_waves, params: {n: 8, L: 6}}
  init: {plugin: gaussian_gain, params: {m: 64, gain: 1.0}}
  train: {plugin: heavy_ball, params: {steps: 200, lr: 0.01/m, momentum: "${grid.momentum}"}, needs: [data, init]}
  diagnose: {plugins: [loss, w_spectral_norm], schedule: {log: 8}, needs: [train]}
store: example.zarr
"""


def test_the_pip_installed_example_runs_in_a_pipeline_on_dask(example_site: Path, tmp_path: Path) -> None:
    """Discovered through its entry point by `overparam run` and by the Dask workers it starts."""
    pipeline = write_pipeline(tmp_path, EXAMPLE_PIPELINE)
    env = {"PYTHONPATH": os.pathsep.join([str(example_site), os.environ.get("PYTHONPATH", "")])}
    out = overparam("run", str(pipeline), "--quiet", "--workers", "1", env=env)
    assert out.returncode == 0, out.stderr
    ds = xr.open_zarr(str(tmp_path / "example.zarr")).load()
    assert (ds["status"].values == 1).all()
    assert ds["w_spectral_norm"].dims == ("momentum", "step")
    assert ds["w_spectral_norm"].attrs["paper_ref"]
    loss = ds["loss"].values
    assert (loss[:, -1] < 0.5 * loss[:, 0]).all()


def test_contract_check_compares_a_generators_shape_with_what_it_makes(with_example: Path) -> None:
    from overparam_example.generator import SineWaves

    class Misdeclared(SineWaves):
        """Sine waves whose declared input size is wrong."""

        name = "misdeclared"

        def shape(self, params):
            return (params.n, params.L, 4, 1)

    assert check_component(SineWaves) == []
    assert check_component(Misdeclared) == [
        "Misdeclared: shape(params) says (n, L, d_x, d) = (8, 8, 4, 1), but generate() makes (8, 8, 3, 1)"]


def test_example_reduces_to_the_builtins_at_their_neutral_settings(with_example: Path) -> None:
    registry = Registry()
    paper, paper_params = make(registry, "initializer", "paper", m=32)
    gain, gain_params = make(registry, "initializer", "gaussian_gain", m=32, gain=1.0)
    w_paper = paper.initialize(paper_params, Elman().weight_layout(32, 3, 1), seed=5)
    w_gain = gain.initialize(gain_params, Elman().weight_layout(32, 3, 1), seed=5)
    assert all(torch.equal(getattr(w_paper, t), getattr(w_gain, t)) for t in "WAB")

    generator, data_params = make(registry, "generator", "sine_waves")
    problem = generator.generate(data_params, seed=0)
    heavy, heavy_params = make(registry, "optimizer", "heavy_ball", steps=1, lr=0.001, momentum=0.0, train="WAB")
    lr = torch.tensor([0.001], dtype=torch.float64)
    stepped = heavy.step(heavy_params, heavy.start(heavy_params, problem, [0]), w_paper, problem, lr, Elman())
    gradient = closed_form_gradient(w_paper, problem, ("W", "A", "B"))
    for name in "WAB":
        assert torch.allclose(getattr(stepped, name), getattr(w_paper, name) - 0.001 * gradient[name])


# --- command line -------------------------------------------------------------------------

def test_plugins_command_with_nothing_broken_lists_components_by_kind_with_providers_and_exits_0(
        with_example: Path) -> None:
    # The built-ins and the example all load, so by the documented contract (exit 1 only when a plugin
    # failed to load or two provide one name) the listing comes with exit status 0 and an empty stderr.
    result = CliRunner().invoke(main, ["plugins"])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    headers = {line.rstrip(":"): i for i, line in enumerate(lines) if not line.startswith(" ")}
    assert list(headers) == ["generators", "initializers", "optimizers", "diagnostics", "models", "claims"]
    bounds = [*headers.values(), len(lines)]
    for (kind, start), end in zip(headers.items(), bounds[1:]):
        section = lines[start + 1 : end]
        for name in BUILTINS.get(kind[:-1], set()):
            assert any(line.split()[:2] == [name, "built-in"] for line in section), (kind, name)
        example = {**EXAMPLE_COMPONENTS, "claim": "w_norm_settles"}[kind[:-1]]
        assert any(line.split()[0] == example and EXAMPLE_SOURCE in line for line in section), (kind, example)


def test_plugins_verbose_shows_types_defaults_bounds_descriptions(with_example: Path) -> None:
    result = CliRunner().invoke(main, ["plugins", "--verbose"])
    out = result.stdout
    assert "momentum: float = 0.9  [>= 0, < 1]  β in v <- β v - η ∇f, W <- W + v; 0 is plain GD" in out
    assert "m: int, required  [>= 1]  hidden width m" in out
    assert "train: 'W' | 'WAB' = 'W'" in out
    assert "delta: float = 0.3  [> 0, <= 1]" in out
    assert "output w_spectral_norm: ||W||_2, spectral norm of the recurrent weights" in out


def test_plugins_command_reports_a_broken_plugin_and_fails(plugin_module) -> None:
    name = plugin_module("broken_for_cli", "raise ImportError('cannot start')\n")
    result = CliRunner().invoke(main, ["plugins", "--plugin", name])
    assert result.exit_code == 1
    assert f"plugin '{name}' from module {name} failed to load" in result.stderr
    assert "ImportError: cannot start" in result.stderr
    assert "separable" in result.stdout


# --- a third-party model: networks as plugins ----------------------------------------------

LOOPED_PIPELINE = """\
name: looped-model
grid:
  m: [16, 24]
stages:
  net: {{plugin: looped}}
  data: {{plugin: separable, params: {{n: 5, L: 4, d_x: 6, d: 2, delta: 0.3}}}}
  init: {{plugin: paper, params: {{m: "${{grid.m}}"}}, needs: [net]}}
  train: {{plugin: gd, params: {{steps: 40, lr: 0.02}}, needs: [data, init]}}
  diagnose: {{plugins: [{diagnostics}], schedule: {{at: [0, 40]}}, needs: [train]}}
store: looped.zarr
"""


def looped_by_hand(W, A, B, X, Y):
    """f of the weight-tied network for one member, sequence by sequence, written independently."""
    total = 0.0
    for i in range(X.shape[0]):
        h = torch.relu(A @ X[i, 0])
        for _ in range(1, X.shape[1]):
            h = torch.relu(W @ h)
        total = total + 0.5 * (B @ h - Y[i, -1]).square().sum()
    return total


def test_a_third_party_model_written_with_autograd_runs_in_a_pipeline(with_example: Path, tmp_path: Path) -> None:
    """The example's `looped` model: its f and PL ratio as stored equal an independent per-sequence
    computation with autograd at W0, and GD on it lowers f."""
    from framework.execution.task import run_ensemble
    from framework.planning.plan import plan_file


    plan = plan_file(write_pipeline(tmp_path, LOOPED_PIPELINE.format(diagnostics="loss, pl_ratio, forward_norms")))
    jobs = list(plan.jobs)
    assert [job.model.name for job in jobs] == ["looped", "looped"]
    assert plan.components()["net"] == ["looped"]
    results = run_ensemble(jobs, plan.layout)
    for job, result in zip(jobs, results):
        assert result.status == "done", result.error
        problem = job.data.component().generate(job.data.params, job.data.seed)
        weights = job.init.component().initialize(job.init.params, job.weight_layout(), job.init.seed)
        W = weights.W[0].clone().requires_grad_(True)
        f = looped_by_hand(W, weights.A[0], weights.B[0], problem.X[0], problem.Y[0])
        (gradient,) = torch.autograd.grad(f, W)
        m = job.shape.m
        assert result.values["loss"][0] == pytest.approx(float(f.detach()), rel=1e-12)
        assert result.values["pl_ratio"][0] == pytest.approx(float(gradient.square().sum() / (m * f)), rel=1e-10)
        assert result.values["loss"][-1] < result.values["loss"][0]


def test_a_diagnostic_the_model_cannot_serve_is_refused_naming_both(with_example: Path, tmp_path: Path) -> None:
    from framework.planning.plan import plan_file

    path = write_pipeline(tmp_path, LOOPED_PIPELINE.format(diagnostics="loss, fresh_randomness"))
    with pytest.raises(PipelineError) as refused:
        plan_file(path)
    message = str(refused.value)
    assert "stages.diagnose" in message
    assert "diagnostic 'fresh_randomness' needs sequence from the model" in message
    assert "model 'looped' does not provide (it provides layers, recurrent)" in message


def test_a_model_stage_the_initializer_does_not_need_is_refused(with_example: Path, tmp_path: Path) -> None:
    from framework.planning.plan import plan_file

    text = LOOPED_PIPELINE.format(diagnostics="loss").replace(", needs: [net]}", "}")
    with pytest.raises(PipelineError, match="the model stage 'net' must be among this stage's needs"):
        plan_file(write_pipeline(tmp_path, text))


def test_the_model_check_catches_a_gradient_that_is_not_the_losss(with_example: Path) -> None:
    from overparam_example.model import Looped

    class Doubled(Looped):
        """Looped, with a gradient twice too large."""

        name = "doubled"

        def gradient(self, weights, problem, trained, state=None):
            return {name: 2 * g for name, g in super().gradient(weights, problem, trained, state).items()}

    assert check_component(Looped) == []
    (problem,) = check_component(Doubled)
    assert "gradient() disagrees with a central difference of loss()" in problem


TWO_LAYER_PIPELINE = """\
name: two-layer
grid:
  m: [20, 40]
stages:
  net: {{plugin: two_layer}}
  data: {{plugin: separable, params: {{n: 6, L: 1, d_x: 5, d: 1, delta: 0.3}}}}
  init: {{plugin: signs, params: {{m: "${{grid.m}}"}}, needs: [net]}}
  train: {{plugin: gd, params: {{steps: 60, lr: 0.2{train}}}, needs: [data, init]}}
  diagnose: {{plugins: [loss, pl_ratio, weight_distance, dprime_sparsity], schedule: {{at: [0, 60]}}, needs: [train]}}
store: two_layer.zarr
"""


def du_by_hand(W, signs, X, Y):
    """Du et al.'s f(x) = (1/√m) Σ_r a_r relu(w_rᵀ x), a_r = ±1, summed over the inputs neuron by neuron."""
    m = W.shape[0]
    total = 0.0
    for i in range(X.shape[0]):
        x = X[i, 0]
        output = sum(signs[0, r] * torch.relu(W[r] @ x) for r in range(m)) / math.sqrt(m)
        total = total + 0.5 * (output - Y[i, -1, 0]) ** 2
    return total


def test_the_du_et_al_two_layer_example_trains_its_first_layer_in_a_pipeline(with_example: Path, tmp_path: Path) -> None:
    """The example's `two_layer` network with its own initializer `signs`: what the store holds at
    W0 is a neuron-by-neuron computation of Du et al.'s network; GD moves W alone and lowers f."""
    from framework.execution.task import run_ensemble
    from framework.planning.plan import plan_file


    plan = plan_file(write_pipeline(tmp_path, TWO_LAYER_PIPELINE.format(train="")))
    jobs = list(plan.jobs)
    assert [job.shape.layers for job in jobs] == [1, 1]
    results = run_ensemble(jobs, plan.layout)  # one ensemble of widths 20 and 40, zero-padded
    for job, result in zip(jobs, results):
        assert result.status == "done", result.error
        problem = job.data.component().generate(job.data.params, job.data.seed)
        weights = job.init.component().initialize(job.init.params, job.weight_layout(), job.init.seed)
        m = job.shape.m
        signs = weights.a * math.sqrt(m)
        assert set(signs.unique().tolist()) == {-1.0, 1.0}
        W = weights.W[0].clone().requires_grad_(True)
        f = du_by_hand(W, signs[0], problem.X[0], problem.Y[0])
        (gradient,) = torch.autograd.grad(f, W)
        assert result.values["loss"][0] == pytest.approx(float(f.detach()), rel=1e-12)
        assert result.values["pl_ratio"][0] == pytest.approx(float(gradient.square().sum() / (m * f.detach())), rel=1e-10)
        assert result.values["loss"][-1] < 0.5 * result.values["loss"][0]
        assert result.values["weight_distance_frobenius"][-1] > 0


def test_an_optimizer_training_weights_the_model_lacks_is_refused_naming_them(with_example: Path, tmp_path: Path) -> None:
    from framework.planning.plan import plan_file

    with pytest.raises(PipelineError) as refused:
        plan_file(write_pipeline(tmp_path, TWO_LAYER_PIPELINE.format(train=", train: WAB")))
    message = str(refused.value)
    assert "stages.train.params.train" in message
    assert "optimizer 'gd' trains W, A, B, but model 'two_layer' has no A, B (its weights are W, a)" in message


# --- docs/plugins.md and the example's README say what the code lists --------------------

NUMBER_WORDS = {3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine"}


def documented_block(text: str, after: str) -> list[str]:
    """The lines of the first ```text block after ``after``, its ``$ command`` line left out."""
    block = text[text.index(after):].split("```text\n", 1)[1].split("\n```", 1)[0]
    return [line for line in block.splitlines() if not line.startswith("$ ")]


def test_the_documented_listings_of_plugins_are_what_overparam_plugins_prints(with_example: Path) -> None:
    """docs/plugins.md's listing with the example installed (its header lines and the example's
    lines), the number of the example's components and of the built-in claims in its prose, and
    the example README's count of hook functions: each from what the code gives."""
    docs = (ROOT / "docs" / "plugins.md").read_text()
    result = CliRunner().invoke(main, ["plugins"])
    assert result.exit_code == 0, result.output
    printed = result.stdout.splitlines()
    example_lines = [line for line in printed if not line.startswith(" ") or "overparam-example-plugin" in line]
    assert documented_block(docs, "With the example package of `examples/plugin` installed") == example_lines
    components = sum("overparam-example-plugin" in line for line in printed) - 1  # its one claim
    assert f"its {NUMBER_WORDS[components]} components and its claim appear" in docs
    claims = printed[printed.index("claims:") + 1:]
    assert f"({sum('built-in' in line for line in claims)} built-in ones" in docs
    hooks = (EXAMPLE / "overparam_example" / "__init__.py").read_text().count("@hookimpl")
    assert f"{NUMBER_WORDS[hooks]} `@hookimpl` functions" in (EXAMPLE / "README.md").read_text()
