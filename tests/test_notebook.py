"""A real notebook, run by a real Jupyter kernel (nbclient), does what docs/api.md shows: runs a
small scan with overrides, opens one stage of its store, makes the report, and runs a second
scan on the same local cluster."""
from __future__ import annotations

from pathlib import Path

import pytest

from framework.planning.schedule import schedule_steps

nbformat = pytest.importorskip("nbformat", reason="the notebook test needs the test extra's nbformat")
nbclient = pytest.importorskip("nbclient", reason="the notebook test needs the test extra's nbclient")
pytest.importorskip("ipykernel", reason="the notebook test needs the test extra's ipykernel")

PIPELINE = """\
name: notebook
grid:
  m: [16, 24, 32]
  seed: 2
stages:
  data: {plugin: separable, params: {n: 4, L: 3, d_x: 4, d: 2, delta: 0.3}}
  init: {plugin: paper, params: {m: "${grid.m}"}}
  train: {plugin: gd, params: {steps: 60, lr: 0.05/m}, needs: [data, init]}
  diagnose: {plugins: [loss, pl_ratio], schedule: {log: 10}, needs: [train]}
  geometry: {plugins: [forward_norms], schedule: {log: 3}, needs: [train]}
store: results/notebook.zarr
"""
CELLS = [
    "import overparam\nimport os",
    "ds = overparam.run('notebook.yaml', overrides=['grid.m=[16,32]', 'grid.seed=2'], progress='plain')\n"
    "print('sizes', dict(ds.sizes)); print('done', int((ds.status == 1).sum()))",
    "view = overparam.open('results/notebook.zarr', stage='geometry')\n"
    "print('geometry steps', view.step.values.tolist())",
    "report = overparam.report('results/notebook.zarr')\nprint('report', report.html_path.exists())",
    "again = overparam.run('notebook.yaml', overrides=['grid.m=[16,32]', 'grid.seed=3'], progress='quiet')\n"
    "print('grown', dict(again.sizes)['seed'], int((again.status == 1).sum()))",
]


def test_a_notebook_runs_opens_and_reports(tmp_path: Path) -> None:
    (tmp_path / "notebook.yaml").write_text(PIPELINE)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code) for code in CELLS])
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = ["".join(output.get("text", "") for output in cell.outputs if output.get("output_type") == "stream")
               for cell in notebook.cells]
    errors = [output for cell in notebook.cells for output in cell.outputs if output.get("output_type") == "error"]
    assert not errors, errors
    assert "sizes {'m': 2, 'seed': 2," in outputs[1] and "done 4" in outputs[1]
    assert f"geometry steps {list(schedule_steps({'log': 3}, 60, 'schedule'))}" in outputs[2]
    assert "report True" in outputs[3]
    assert "grown 3 6" in outputs[4]
    assert (tmp_path / "results" / "notebook.report" / "report.html").is_file()
