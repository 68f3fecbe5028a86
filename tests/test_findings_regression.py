"""The findings do not move (issue 16): each pipeline of pipelines/findings/, reduced, rerun, and
its verdicts and judged intervals checked against the table in docs/findings.md.

The reduced pipelines keep each findings pipeline's data, model, optimizer and diagnostics and
shrink its grid and budget (``REDUCTIONS``) so that all of them run in about three minutes on
two cores, in every run of the suite. A change to the engine, a diagnostic or a verdict rule
that moves one of their findings changes a verdict or an interval here.

Verdicts must match exactly. A number may move by ``WIDTH_FRACTION`` of its documented
interval's width (and its printed rounding): a change of the engine's rounding moves a fit by a
small part of its interval (at most 17% seen, when the float32 engine's memory layout changed),
while a real change moves it by a good part of the spread over replicas, which is what the
interval measures.

When a change is meant to move a finding, rerun the reduced pipelines and rewrite the table:
``python tests/test_findings_regression.py --write [PIPELINE ...]`` (all by default; docs/findings.md
says what changed, why).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
FINDINGS = ROOT / "pipelines" / "findings"
DOCUMENT = ROOT / "docs" / "findings.md"
START, END = "<!-- regression table: start -->", "<!-- regression table: end -->"
WIDTH_FRACTION = 0.25  # of the documented interval's width: how far a rerun's number may sit from the table
PRINTED = 0.005  # relative: the table's 3 significant figures

# Dotted keys into the pipeline file, and their reduced values.
REDUCTIONS: dict[str, dict[str, Any]] = {
    "width": {"grid.m": [64, 128, 256, 512], "grid.seed": 3, "stages.train.params.steps": 300},
    "depth": {"grid.L": [2, 4, 8, 16], "grid.m": [32, 128], "grid.seed": 3, "stages.train.params.steps": 200,
              "stages.chains.schedule": {"at": [0, 200]}},
    "samples": {"grid.n": [2, 4, 8, 16], "grid.m": [64, 256], "grid.seed": 3, "stages.train.params.steps": 400},
    # float64: in float32 its q moved between two CPUs (AVX-512 against the table's) by more than the
    # tolerance, its T (the last step above 1e-9 f(W0)) falling near float32's round-off
    "separation": {"grid.delta": [0.05, 0.1, 0.2, 0.5], "grid.m": [64, 256], "grid.seed": 3,
                   "stages.train.params.steps": 400, "dtype": "float64"},
    "optimizers": {"grid.m": [128], "grid.seed": 3, "grid.steps": [300, 2400, 1200]},
    "token_map": {"grid.m": [64, 128, 256], "grid.seed": 3, "stages.train.params.steps": 400},
    "digits": {"grid.m": [64, 256], "grid.seed": 3, "stages.train.params.steps": 400,
               "stages.data.params.n": 16},
    "kernel_prediction": {"grid.m": [64, 128, 256], "grid.seed": 3, "stages.train.params.steps": 300},
    "kernel_tasks": {"grid.seed": 3, "stages.train.params.steps": 600},
    "width_needed_n": {"grid.n": [2, 3, 4, 8], "grid.m": [8, 16, 32, 64, 128], "grid.seed": 3,
                       "stages.train.params.steps": 800},
    "width_needed_L": {"grid.L": [2, 3, 4, 8], "grid.m": [8, 16, 32, 64, 128, 256], "grid.seed": 3,
                       "stages.train.params.steps": 1000},
    "lazy_rich": {"grid.alpha": [1.0, 3.16, 10.0, 100.0], "grid.centered": [True], "grid.m": [64, 128],
                  "grid.seed": 3, "stages.train.params.steps": 200},
}


def reduced(name: str, directory: Path) -> Path:
    """The findings pipeline ``name`` with its reductions applied, written into ``directory``."""
    spec = yaml.safe_load((FINDINGS / f"{name}.yaml").read_text())
    for dotted, value in REDUCTIONS[name].items():
        *parents, last = dotted.split(".")
        node = spec
        for key in parents:
            node = node[key]
        if last not in node:
            raise KeyError(f"pipelines/findings/{name}.yaml has no key {dotted}")
        node[last] = value
    spec["name"] = f"{spec['name']}-reduced"
    spec["store"] = f"{name}.zarr"
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def measured_rows(name: str, directory: Path, client: Any = None) -> list[tuple[str, str, str, str]]:
    """Run the reduced pipeline and report on it: (pipeline, claim, verdict, number) per finding;
    on ``client``'s cluster where given (the tests' shared one), else on a local cluster of two
    workers (each a torch thread, as the shared one)."""
    from framework.execution.cluster import ClusterOptions
    from framework.execution.orchestrator import RunOptions, run_plan
    from framework.planning.plan import plan_file
    from framework.report import build_report

    pipeline = reduced(name, directory)
    cluster = ClusterOptions(client=client) if client is not None else ClusterOptions(workers=2)
    run_plan(plan_file(pipeline), RunOptions(cluster=cluster, progress="quiet"))
    report = build_report(directory / f"{name}.zarr", directory / f"{name}.report")
    rows = []
    for finding in report.content.findings:
        assessment = finding.assessment
        number = ("—" if assessment is None or assessment.measured is None else
                  "{:.3g} [{:.3g}, {:.3g}]".format(*assessment.measured))
        rows.append((name, finding.title, str(assessment.verdict) if assessment else "—", number))
    return rows


def documented() -> dict[tuple[str, str], tuple[str, str]]:
    """The table in docs/findings.md: (pipeline, claim) -> (verdict, number)."""
    text = DOCUMENT.read_text()
    table = text[text.index(START) + len(START):text.index(END)]
    rows = {}
    for line in table.strip().splitlines()[2:]:
        pipeline, claim, verdict, number = (cell.strip() for cell in line.strip().strip("|").split("|"))
        rows[(pipeline, claim)] = (verdict, number)
    return rows


def numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", text)]


def test_every_findings_pipeline_has_a_reduction_that_names_its_keys_and_validates(tmp_path):
    from framework.planning.plan import plan_file

    assert set(REDUCTIONS) == {path.stem for path in FINDINGS.glob("*.yaml")}
    for name in REDUCTIONS:
        plan = plan_file(reduced(name, tmp_path))
        assert 0 < len(plan.jobs) < len(plan_file(FINDINGS / f"{name}.yaml").jobs), name


@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_a_reduced_findings_pipeline_reproduces_its_documented_verdicts_and_intervals(name, tmp_path, dask_client):
    table = {key: value for key, value in documented().items() if key[0] == name}
    assert table, f"docs/findings.md has no regression rows for {name}"
    rows = {(pipeline, claim): (verdict, number)
            for pipeline, claim, verdict, number in measured_rows(name, tmp_path, dask_client)}
    assert set(rows) == set(table), (set(rows) ^ set(table))
    for key, (verdict, number) in rows.items():
        expected_verdict, expected_number = table[key]
        assert verdict == expected_verdict, f"{key}: {verdict}, documented {expected_verdict}"
        got, expected = numbers(number), numbers(expected_number)
        assert len(got) == len(expected), f"{key}: {number}, documented {expected_number}"
        if expected:
            assert within_rounding_of(got, expected), f"{key}: {number}, documented {expected_number}"


def within_rounding_of(got: list[float], expected: list[float]) -> bool:
    """``got`` (estimate, low, high) no further from ``expected`` than ``WIDTH_FRACTION`` of the
    documented interval's width, plus the printed rounding of each number."""
    width = max(expected[1:]) - min(expected[1:]) if len(expected) == 3 else 0.0
    return all(abs(value - reference) <= WIDTH_FRACTION * width + PRINTED * abs(reference) + 1e-12
               for value, reference in zip(got, expected))


def test_the_tolerance_tells_the_float32_layouts_rounding_from_a_real_change():
    """The table's numbers before and after the float32 engine's new memory layout (token_map's
    Polyak–Łojasiewicz exponent, width's semi-smoothness) are within it; an estimate moved by
    half its interval's width, or out of its interval, is not."""
    assert within_rounding_of([0.375, -0.26, 1.01], [0.308, -0.563, 1.18])
    assert within_rounding_of([-0.786, -1.65, 0.08], [-0.789, -1.67, 0.089])
    assert not within_rounding_of([0.308 + 0.87, -0.563, 1.18], [0.308, -0.563, 1.18])
    assert not within_rounding_of([-0.282, -0.608, 0.0441], [-0.312, -0.509, -0.115])  # exact steps to target moved it


def write_table(names: list[str]) -> None:
    """Rerun the reduced pipelines ``names`` (all when empty) and put their rows into the table
    of docs/findings.md, keeping the others' rows."""
    import tempfile

    kept = documented()
    rows = {name: [(pipeline, claim, *value) for (pipeline, claim), value in kept.items() if pipeline == name]
            for name in REDUCTIONS}
    with tempfile.TemporaryDirectory() as directory:
        for name in names or list(REDUCTIONS):
            folder = Path(directory) / name
            folder.mkdir()
            rows[name] = measured_rows(name, folder)
    lines = ["| pipeline | claim | verdict | judged number [interval] |", "| --- | --- | --- | --- |"]
    lines += [f"| {' | '.join(row)} |" for name in REDUCTIONS for row in rows[name]]
    text = DOCUMENT.read_text()
    head, tail = text[:text.index(START) + len(START)], text[text.index(END):]
    DOCUMENT.write_text(head + "\n" + "\n".join(lines) + "\n" + tail)


if __name__ == "__main__":
    if sys.argv[1:2] != ["--write"] or not set(sys.argv[2:]) <= set(REDUCTIONS):
        sys.exit(f"usage: python tests/test_findings_regression.py --write [{' '.join(REDUCTIONS)}]")
    write_table(sys.argv[2:])
