"""``overparam report STORE``: every figure and claim the store can show, written to one folder.

Each claim module contributes functions ``(view, out) -> [Finding | Skipped]``; this module runs
them in the paper's order (training, Theorem 3, radius, (5.1), §4, Theorem 4), collects what
they found and what they had to skip, and writes report.md and report.html beside the figures.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from framework.report import geometry, training, width
from framework.report.document import ReportContent, markdown, page
from framework.report.verdicts import Finding, Skipped
from framework.report.view import StoreView

Claim = Callable[[StoreView, Path], list[Finding | Skipped]]
CLAIMS: tuple[Claim, ...] = (
    training.loss_curves, training.optimizers, training.training_scaling,
    width.pl_ratio, width.distance, width.dprime, width.perturbation,
    geometry.forward_geometry, geometry.chains, geometry.semi_smoothness,
)


@dataclass(frozen=True)
class Report:
    """Where the report went and what it says."""

    out: Path
    content: ReportContent

    @property
    def markdown_path(self) -> Path:
        return self.out / "report.md"

    @property
    def html_path(self) -> Path:
        return self.out / "report.html"

    def summary(self) -> str:
        """One line per claim with its verdict, then what was skipped: for the terminal."""
        lines = [f"report: {self.markdown_path} and {self.html_path.name}"]
        lines += [f"  {f.assessment.verdict if f.assessment else '-':<17} {f.title} ({f.paper_ref})"
                  for f in self.content.findings]
        lines += [f"  skipped: {s.title}: {s.reason}" for s in self.content.skipped]
        if self.content.left_out:
            lines.append(f"  left out {len(self.content.left_out)} of {self.content.total} grid points "
                         "(failed, diverged or pending): see the report")
        return "\n".join(lines)


def default_out(store: str | Path) -> Path:
    """The report folder beside a store: ``results/quickstart.zarr`` -> ``results/quickstart.report``."""
    store = Path(store)
    name = store.stem if store.suffix == ".zarr" else store.name
    return store.with_name(name + ".report")


def _header(view: StoreView) -> list[str]:
    attrs = view.ds.attrs
    lines = [f"store: {view.path}"]
    if attrs.get("description"):
        lines.append(f"pipeline: {attrs.get('name', '?')} — {str(attrs['description']).strip()}")
    lines.append(f"run started {attrs.get('started_at', '?')}, finished {attrs.get('finished_at') or 'not yet'}")
    for dim in view.grid_dims:
        values = ", ".join(str(v) for v in view.ds[dim].values.tolist())
        lines.append(f"grid axis {dim}: {values}")
    lines.append(f"{view.done_count} of {view.total} grid points done")
    versions = attrs.get("versions")
    if versions:
        lines.append("versions: " + ", ".join(f"{k} {v}" for k, v in json.loads(versions).items()))
    return lines


def build_report(store: str | Path, out: str | Path | None = None) -> Report:
    """Read the store (read-only), make every figure it supports, write report.md and report.html."""
    view = StoreView(store)
    folder = Path(out) if out is not None else default_out(store)
    folder.mkdir(parents=True, exist_ok=True)
    findings: list[Finding] = []
    skipped: list[Skipped] = []
    for claim in CLAIMS:
        for item in claim(view, folder):
            (findings if isinstance(item, Finding) else skipped).append(item)
    content = ReportContent(f"overparam report: {view.ds.attrs.get('name', view.path.name)}", view.path,
                            _header(view), findings, skipped, view.left_out, view.done_count, view.total)
    (folder / "report.md").write_text(markdown(content))
    (folder / "report.html").write_text(page(content))
    return Report(folder, content)
