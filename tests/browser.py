"""A real browser for the report's tests: Debian's Chromium, headless, driven by Playwright.

``read_page(path)`` opens a local HTML file as a reader would and returns what the browser
shows: the visible text (with and without code), every image's loaded size, every MathML
script's position against its base, and every URL the page asked for. Without Chromium or
Playwright the tests that use it are skipped, except under ``CI=true``, where they fail
(``.ci/run`` installs both): CI must not lose them silently.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

SHOWN = """() => {
  const text = document.body.innerText;
  const images = [...document.images].map(i => ({id: i.id, complete: i.complete, width: i.naturalWidth,
                                                 height: i.naturalHeight}));
  const box = e => e.getBoundingClientRect();
  const scripts = [...document.querySelectorAll('msub, msup, msubsup')].map(e => {
    const [base, first, second] = [...e.children].map(box);
    return {tag: e.localName, text: e.textContent, baseTop: base.top, baseHeight: base.height,
            firstTop: first.top, firstHeight: first.height, secondTop: second ? second.top : null,
            secondHeight: second ? second.height : null};
  });
  const maths = [...document.querySelectorAll('math')].map(m => ({text: m.textContent, width: box(m).width}));
  document.querySelectorAll('code').forEach(c => c.remove());
  return {text, prose: document.body.innerText, images, scripts, maths};
}"""


@dataclass(frozen=True)
class Page:
    """What Chromium showed: ``text`` (innerText), ``prose`` (the same without code), the images,
    the MathML scripts with their boxes, the ``<math>`` elements, and every URL requested."""

    text: str
    prose: str
    images: list[dict]
    scripts: list[dict]
    maths: list[dict]
    requests: list[str]


def require_chromium() -> None:
    """Skip (or, under CI, fail) unless Chromium and Playwright are here."""
    problems = []
    if not shutil.which(CHROMIUM):
        problems.append(f"no {CHROMIUM} (Debian package chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problems.append("no playwright (pip install playwright)")
    if problems:
        reason = "; ".join(problems)
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}: under CI the browser tests must run, not be skipped")
        pytest.skip(reason)


def read_page(path: Path) -> Page:
    """Open ``path`` in headless Chromium (no network) and read what it shows."""
    from playwright.sync_api import sync_playwright

    require_chromium()
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page()
            page.on("request", lambda request: requests.append(request.url))
            page.goto(path.resolve().as_uri(), wait_until="load")
            shown = page.evaluate(SHOWN)
        finally:
            browser.close()
    return Page(shown["text"], shown["prose"], shown["images"], shown["scripts"], shown["maths"], requests)
