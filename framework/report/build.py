"""``overparam report STORE``: every claim the store can test, its figure and verdict, in one folder.

The claims are plugins (``overparam.Claim``, hook ``overparam_register_claims``): this module
loads those of the plugins the run used (``registered``), runs them in report order
(``assess``; the built-ins follow the paper: training, Theorem 3, radius, (5.1), §4, Theorem 4),
collects what they found and what they had to skip, and writes report.md and report.html
beside the figures. It draws only what the claims ask for and names no store variable itself.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from framework.plugin_system.registry import Registry
from framework.report.assess import assess_claims
from framework.report.document import ReportContent, markdown, page
from framework.report.registered import load_claims, restated, store_model, store_registry
from framework.report.verdicts import Skipped
from framework.contract.store_view import StoreView


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
    lines = [f"store: `{view.path}`"]
    if attrs.get("description"):
        lines.append(f"pipeline: {attrs.get('name', '?')} — {str(attrs['description']).strip()}")
    lines.append(f"run started {attrs.get('started_at', '?')}, finished {attrs.get('finished_at') or 'not yet'}")
    for dim in view.grid_dims:
        values = ", ".join(str(v) for v in view.ds[dim].values.tolist())
        lines.append(f"grid axis `{dim}`: {values}")
    lines.append(f"{view.done_count} of {view.total} grid points done")
    versions = attrs.get("versions")
    if versions:
        lines.append("versions: " + ", ".join(f"{k} {v}" for k, v in json.loads(versions).items()))
    return lines


def build_report(store: str | Path, out: str | Path | None = None, registry: Registry | None = None) -> Report:
    """Read the store (read-only), test every registered claim it can, write report.md and report.html.

    ``registry`` gives the claims; by default the plugins of the run that made the store
    (``registered.store_registry``).
    """
    view = StoreView(store)
    folder = Path(out) if out is not None else default_out(store)
    folder.mkdir(parents=True, exist_ok=True)
    registry = registry if registry is not None else store_registry(view.ds.attrs)
    loaded = load_claims(registry)
    assessed = assess_claims(view, restated(loaded.claims, registry, store_model(view.ds.attrs)), folder)
    skipped = assessed.skipped + [Skipped(what, why) for what, why in loaded.problems]
    content = ReportContent(f"overparam report: {view.ds.attrs.get('name', view.path.name)}", view.path,
                            _header(view), assessed.findings, skipped, view.left_out, view.done_count, view.total)
    (folder / "report.md").write_text(markdown(content))
    (folder / "report.html").write_text(page(content, folder))
    return Report(folder, content)
