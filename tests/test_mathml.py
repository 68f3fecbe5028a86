"""report.html's mathematics (framework/report/mathml.py): each mathematical word of a claim's
plain text becomes one MathML element whose scripts are where the plain text put them, the
text it shows is the plain text without its markup, and names and prose stay text."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from framework.report.mathml import typeset

SUPERSCRIPT_DIGITS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻ᵀ", "0123456789−T")


def elements(html: str) -> list[ET.Element]:
    return [ET.fromstring(m) for m in re.findall(r"<math>.*?</math>", html)]


def shown(element: ET.Element) -> str:
    return "".join(element.itertext())


def unmarked(expression: str) -> str:
    """What a reader sees of a plain-text expression once typeset: no ``_``, ``^`` or braces,
    a ``^(…)`` group without its brackets, superscript characters as ordinary ones, ' as ′."""
    text = re.sub(r"\^\(([^()]*)\)", r"\1", expression)
    return re.sub(r"[_^{}]", "", text).translate(SUPERSCRIPT_DIGITS).replace("'", "′")


@pytest.mark.parametrize(("expression", "scripts"), [
    ("‖∇f(W)‖_F²", [("msubsup", "‖", "F", "2")]),
    ("U_{l−1}U_{l−1}ᵀ)h_{i,l}", [("msub", "U", "l−1"), ("msubsup", "U", "l−1", "T"), ("msub", "h", "i,l")]),
    ("max_t", [("msub", "max", "t")]),
    ("λ_min(JJᵀ)/m", [("msub", "λ", "min"), ("msup", "J", "T")]),
    ("m^{2/3}", [("msup", "m", "2/3")]),
    ("O(m^(−1/2))", [("msup", "m", "−1/2")]),
    ("2^Ω(L)", [("msup", "2", "Ω(L)")]),
    ("D_{l_2}", [("msub", "D", "l2")]),
    ("‖W'‖_2", [("msup", "W", "′"), ("msub", "‖", "2")]),
    ("10⁻⁹·f(W0)", [("msup", "10", "−9")]),
])
def test_each_script_sits_on_its_base_and_the_expression_shows_its_plain_text(expression, scripts):
    [math] = elements(typeset(expression))
    assert shown(math) == unmarked(expression)
    found = [(e.tag, *(shown(child) for child in e)) for e in math.iter() if e.tag in ("msub", "msup", "msubsup")]
    assert found[:len(scripts)] == scripts, found  # in document order; nested scripts (l_2 in D_{l_2}) after


def test_names_prose_and_code_stay_text_and_sentence_punctuation_stays_outside():
    html = typeset("the exponent of `steps_to_target` and weight_norm_max is a = 0.5 at m = 64, f_T.")
    assert "<code>steps_to_target</code>" in html and "weight_norm_max" in html
    assert [shown(e) for e in elements(html)] == ["m", "fT"]
    assert html.endswith("</math>.") and " is a = 0.5 at " in html


def test_every_word_of_a_mixed_sentence_is_typeset_the_same_way():
    """f(W), W, m and ‖∇f(W)‖ in one sentence: each is one MathML element, not some MathML and
    some HTML subscripts."""
    html = typeset("‖∇f(W)‖_F² ≥ δ/poly(ρ) · m · f(W) for every W near W_0")
    assert "<sub>" not in html and "<sup>" not in html
    assert [shown(e) for e in elements(html)] == ["‖∇f(W)‖F2", "≥", "δ/poly(ρ)", "·", "m", "·", "f(W)", "W", "W0"]
