"""The report's text: report.md and report.html from the same findings.

report.md sits beside the figures and refers to them by relative path (``dprime.png``): move the
folder, not the file. report.html is one self-contained file, to mail or attach: each figure is
inside it as its SVG (a ``data:`` URI, vector, for print), and its mathematics is MathML
(``framework.report.mathml``), which browsers render natively, with no script and no network.
"""
from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

from framework.contract.store_view import LeftOut
from framework.report.mathml import typeset
from framework.report.verdicts import Finding, Skipped

RULES = (
    "supported: the whole 95% interval over replicas lies on the side of the bound the paper allows (thresholds: "
    "every replica at the largest width satisfies it)",
    "contradicted: the whole interval lies on the other side (thresholds: every replica at the largest width "
    "violates it)",
    "inconclusive: the interval contains the bound (thresholds: the replicas at the largest width straddle it); "
    "the data decide neither way",
    "not enough range: fewer than 3 axis values with done points, a span under a factor 4, or too few done points",
    "not enough replicas: fewer than 3 replicas measured, too few for an interval",
    "no claim: the paper says nothing about this axis; the fits are descriptive",
    "where the series differ in width, the largest width measured decides and the smaller ones are stated as "
    "context: the theorems hold for m large enough",
)

@dataclass
class ReportContent:
    """What the documents say: the store's identity, the findings, what was skipped or left out."""

    title: str
    store: Path
    header: list[str]
    findings: list[Finding]
    skipped: list[Skipped]
    left_out: list[LeftOut]
    done: int
    total: int
    notes: list[str] = field(default_factory=list)


def unquoted(message: object) -> str:
    """A recorded message, shown as code: its own back-quotes become quotes."""
    return str(message).replace("`", "'")


def _left_out_lines(content: ReportContent) -> list[str]:
    if not content.left_out:
        return [f"None: all {content.total} grid points are done."]
    lines = [f"{content.total - content.done} of {content.total} grid points are not done and were left out of every "
             "figure and fit (their values are not used, even where partly written):"]
    lines += [f"{item.point}: {item.status} (`{unquoted(item.reason)}`)" for item in content.left_out]
    return lines


def first_shown(findings: list[Finding]) -> dict[str, int]:
    """The number of the first claim that shows each figure: a figure several claims share is
    shown there once, and the later claims point to it."""
    shown: dict[str, int] = {}
    for number, finding in enumerate(findings, 1):
        for name in finding.figures:
            shown.setdefault(name, number)
    return shown


def markdown(content: ReportContent) -> str:
    """report.md: summary table, one section per claim with its figure, numbers and verdict."""
    out = [f"# {content.title}", ""]
    out += [f"- {line}" for line in content.header] + [""]
    out += ["## Verdicts", "", "| # | claim | paper | verdict |", "| --- | --- | --- | --- |"]
    for number, finding in enumerate(content.findings, 1):
        verdict = finding.assessment.verdict if finding.assessment else "—"
        out.append(f"| {number} | [{finding.title}](#claim-{number}) | {finding.paper_ref} | **{verdict}** |")
    out.append("")
    shown = first_shown(content.findings)
    for number, finding in enumerate(content.findings, 1):
        out += [f'<a id="claim-{number}"></a>', f"## {number}. {finding.title} ({finding.paper_ref})", "",
                f"**The paper.** {finding.statement}", ""]
        for name in dict.fromkeys(finding.figures):
            if shown[name] == number:
                out.append(f"![{finding.title}]({name})")
            else:
                out.append(f"Figure: {name}, shown with [claim {shown[name]}](#claim-{shown[name]}) above.")
        out.append("")
        if finding.numbers:
            out += ["**Measured.**", ""] + [f"- {line}" for line in finding.numbers] + [""]
        if finding.assessment:
            out += [f"**Verdict: {finding.assessment.verdict}.** {finding.assessment.reason}", ""]
        if finding.notes:
            out += ["Notes: " + "; ".join(finding.notes) + ".", ""]
    out += ["## Figures not made", ""]
    out += [f"- {item.title}: {item.reason}" for item in content.skipped] or ["- none"]
    out += ["", "## Points left out", ""] + [f"- {line}" for line in _left_out_lines(content)]
    out += ["", "## How the verdicts are decided", ""] + [f"- {rule}" for rule in RULES]
    out += ["", "The paper's statements are asymptotic in m with unknown constants: a verdict speaks only for the "
            "range the store measured. See docs/report.md.", ""]
    return "\n".join(out)


def _e(text: object) -> str:
    return html.escape(str(text))


_m = typeset
"""Text for report.html: escaped, its mathematics MathML, back-quoted text code."""


def svg_data_uri(path: Path) -> str:
    """A figure's SVG file as a ``data:`` URI, so the page carries the figure itself."""
    return "data:image/svg+xml;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


STYLE = """body{font-family:system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em;line-height:1.45}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25em .6em}img{max-width:100%}
.supported{color:#176b2c}.contradicted{color:#b00020}.inconclusive,.not-enough-range,.not-enough-replicas{color:#8a5a00}"""


def page(content: ReportContent, folder: Path) -> str:
    """report.html: the same content as report.md, each figure read from its SVG in ``folder``
    and carried in the page."""
    def verdict_span(finding: Finding) -> str:
        if not finding.assessment:
            return "—"
        verdict = str(finding.assessment.verdict)
        return f'<b class="{verdict.replace(" ", "-")}">{_e(verdict)}</b>'

    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{_e(content.title)}</title>",
           f"<style>{STYLE}</style></head><body>", f"<h1>{_m(content.title)}</h1><ul>"]
    out += [f"<li>{_m(line)}</li>" for line in content.header] + ["</ul><h2>Verdicts</h2>",
                                                                  "<table><tr><th>#</th><th>claim</th><th>paper</th>"
                                                                  "<th>verdict</th></tr>"]
    for number, finding in enumerate(content.findings, 1):
        out.append(f'<tr><td>{number}</td><td><a href="#claim-{number}">{_m(finding.title)}</a></td>'
                   f"<td>{_e(finding.paper_ref)}</td><td>{verdict_span(finding)}</td></tr>")
    out.append("</table>")
    shown = first_shown(content.findings)
    for number, finding in enumerate(content.findings, 1):
        out += [f'<h2 id="claim-{number}">{number}. {_m(finding.title)} ({_e(finding.paper_ref)})</h2>',
                f"<p><b>The paper.</b> {_m(finding.statement)}</p>"]
        for name in dict.fromkeys(finding.figures):
            if shown[name] != number:
                out.append(f'<p>Figure: {_e(name)}, shown with <a href="#claim-{shown[name]}">claim {shown[name]}</a> '
                           "above.</p>")
                continue
            stem = Path(name).stem
            out.append(f'<p><img id="figure-{_e(stem)}" src="{svg_data_uri(folder / (stem + ".svg"))}" '
                       f'alt="{_e(finding.title)}"></p>')
        if finding.numbers:
            out += ["<p><b>Measured.</b></p><ul>"] + [f"<li>{_m(line)}</li>" for line in finding.numbers] + ["</ul>"]
        if finding.assessment:
            out.append(f"<p><b>Verdict: {verdict_span(finding)}.</b> {_m(finding.assessment.reason)}</p>")
        if finding.notes:
            out.append(f"<p><i>Notes:</i> {_m('; '.join(finding.notes))}.</p>")
    out += ["<h2>Figures not made</h2><ul>"]
    out += [f"<li>{_m(item.title)}: {_m(item.reason)}</li>" for item in content.skipped] or ["<li>none</li>"]
    out += ["</ul><h2>Points left out</h2><ul>"] + [f"<li>{_m(line)}</li>" for line in _left_out_lines(content)]
    out += ["</ul><h2>How the verdicts are decided</h2><ul>"] + [f"<li>{_m(rule)}</li>" for rule in RULES]
    out += ["</ul></body></html>", ""]
    return "\n".join(out)
