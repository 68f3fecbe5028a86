"""Run claims on a store: skip those it cannot test, draw the figures they ask for, judge the rest.

For each claim, in the order given: ``missing`` says why the store cannot test it (a
``Skipped`` with that reason), else each of its ``instances`` is fitted. Instances naming one
figure share it: the figure gets as many panels as they ask for together, each draws into its
own, in order, and the figure is titled by the first, with what its lines and bands are, and
saved once (PNG and SVG). A claim that
raises is skipped with the error, so one broken plugin does not take the report down with it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from framework.contract.claim import Claim
from framework.report.document import unquoted
from framework.report.plotting import panels, save
from framework.report.verdicts import Finding, Skipped
from framework.contract.store_view import StoreView


@dataclass
class Assessed:
    """What the claims found, and what they had to skip and why."""

    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


@dataclass
class _Fitted:
    claim: Claim
    fitted: Any
    panels: int = 0
    failed: str | None = None


def _raised(error: Exception, step: str) -> str:
    return f"the claim raised `{type(error).__name__}: {unquoted(error)}` (in {step})"


def _fit(view: StoreView, claims: list[Claim], skipped: list[Skipped]) -> list[_Fitted]:
    done = []
    for template in claims:
        try:
            reason = template.missing(view)
            instances = [] if reason else template.instances(view)
        except Exception as error:
            skipped.append(Skipped(template.title, _raised(error, "missing or instances")))
            continue
        if reason:
            skipped.append(Skipped(template.title, reason))
        for claim in instances:
            try:
                fitted = claim.fit(view)
                done.append(_Fitted(claim, fitted, claim.panel_count(view, fitted)))
            except Exception as error:
                skipped.append(Skipped(claim.title, _raised(error, "fit")))
    return done


def _draw(view: StoreView, out: Path, items: list[_Fitted], prefix: str = "") -> dict[str, str]:
    """Each figure drawn and saved; the file name of each figure stem that has panels."""
    by_figure: dict[str, list[_Fitted]] = {}
    for item in items:
        by_figure.setdefault(item.claim.figure, []).append(item)
    files = {}
    for stem, members in by_figure.items():
        count = sum(item.panels for item in members)
        if count == 0:
            continue
        first = members[0].claim
        title = first.figure_title or first.title
        if view.replica:
            title += f" — lines: median over the {view.ds.sizes[view.replica]} replicas ({view.replica}); bands: their min–max"
        figure, axes = panels(count, title)
        start = 0
        for item in members:
            try:
                item.claim.draw(axes[start:start + item.panels], view, item.fitted)
            except Exception as error:
                item.failed = _raised(error, "draw")
            start += item.panels
        files[stem] = save(figure, out, prefix + stem)
    return files


def assess_claims(view: StoreView, claims: list[Claim], out: Path) -> Assessed:
    """Findings and skips of ``claims`` (instances, in report order) on ``view``; figures into ``out``.

    A store of several trainings is assessed once per diagnostic stage, on what that stage
    measured (``StoreView.of_stage``): each claim's title names the stage and its training,
    each figure file starts with the stage's name."""
    pairs = view.trainings()
    if not pairs:
        return _assess(view, claims, out)
    assessed = Assessed()
    for stage, training in pairs:
        part = _assess(view.of_stage(stage, training), claims, out, f"{stage}_", f" — {stage} (trained by {training})")
        assessed.findings.extend(part.findings)
        assessed.skipped.extend(part.skipped)
    return assessed


def _assess(view: StoreView, claims: list[Claim], out: Path, prefix: str = "", suffix: str = "") -> Assessed:
    assessed = Assessed()
    claims = [claim.along(title=claim.title + suffix) for claim in claims] if suffix else claims
    items = _fit(view, claims, assessed.skipped)
    files = _draw(view, out, items, prefix)
    for item in items:
        claim = item.claim
        if item.failed:
            assessed.skipped.append(Skipped(claim.title, item.failed))
            continue
        try:
            finding = Finding(claim.title, claim.paper_ref, claim.statement,
                              [files[claim.figure]] if item.panels and claim.figure in files else [],
                              claim.numbers(view, item.fitted), claim.verdict(view, item.fitted),
                              claim.notes(view, item.fitted))
        except Exception as error:
            assessed.skipped.append(Skipped(claim.title, _raised(error, "numbers, verdict or notes")))
            continue
        assessed.findings.append(finding)
    return assessed
