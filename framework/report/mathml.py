"""The mathematics of the report's plain text, typeset as MathML for report.html.

Claims write their statements, numbers and verdicts as plain text (report.md shows it as
written): ``f_T``, ``‖∇f(W)‖_F²``, ``D_{i,l1}``, ``m^{2/3}``, ``m^(−1/2)``, ``max_t``,
``U_lᵀ``, ``λ_min``. ``typeset`` finds the mathematical words of such a text and writes each
as one ``<math>`` element, so every expression on the page is typeset the same way, by the
browser's native MathML (no script, no network, no font to fetch). Back-quoted text is code.

A word is mathematical when it has a subscript or superscript on a one-letter base, a closing
bracket, ``‖`` or a function name (``min``, ``max``, ``log``…: ``weight_norm_max`` is a name, not
``weight`` with a subscript), a Unicode superscript, a Greek letter or an operator such as ``‖``,
``∇``, ``≤``; or when it is a lone variable (one letter other than the article ``a``). Sentence
punctuation at the end of a word stays text.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

GREEK = "αβγδεζηθικλμνξοπρστυφχψωΓΔΘΛΞΠΣΦΨΩϱϵϑϕ"
FUNCTIONS = ("argmin", "argmax", "min", "max", "log", "ln", "exp", "sup", "inf", "poly", "lim", "det", "tr",
             "diag", "rank", "sign", "dist", "span", "sin", "cos")
SUPERSCRIPTS = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺ᵀⁿ⁽⁾", "0123456789−+Tn()"))
SUBSCRIPTS = dict(zip("₀₁₂₃₄₅₆₇₈₉", "0123456789"))
OPERATORS = "‖∇√∞≤≥≠≈∝×∈∑∏∂±⊗→·"
COMBINING = "\u0300-\u036f"
FENCES = "()[]‖|"
"""Drawn at the text's height: a plain-text expression's brackets enclose no tall fraction."""
_LETTER = rf"[A-Za-z{GREEK}]"
_FUNCTION = "|".join(FUNCTIONS)
_BASE = rf"(?:(?<![A-Za-z])[A-Za-z]|[{GREEK}‖)\]}}′'∞]|(?<![A-Za-z])(?:{_FUNCTION}))[{COMBINING}]*"
_MATH_WORD = re.compile(
    rf"{_BASE}_(?:\{{|[A-Za-z0-9{GREEK}∞])"  # a subscript on a base that takes one
    rf"|(?:{_BASE}|[0-9])\^"  # a superscript, on a number too (2^Ω(L), 10^5)
    rf"|[{''.join(SUPERSCRIPTS)}{''.join(SUBSCRIPTS)}{GREEK}{OPERATORS}]"
    rf"|(?<![A-Za-z])(?:[A-Za-z]|{_FUNCTION})\(|^\(+[A-Za-z](?![A-Za-z])|(?<![A-Za-z])[A-Za-z]\)"  # f(W), (I, L)
    r"|^[A-Za-z][=<>]|^(?![aA]$)[A-Za-z]$|^−$"  # m=64, a lone variable, a minus
)
_CODE = re.compile(r"`([^`]+)`")
_TRAILING = re.compile(r"[.,;:!?]+$")
_SUBSCRIPT_WORD = re.compile(rf"[A-Za-z0-9]+|[{GREEK}][{COMBINING}]*|∞")
_SUPERSCRIPT_WORD = re.compile(rf"[−\-]?[A-Za-z0-9{GREEK}.]+(?:\([^()]*\))?")
_WORD = re.compile(rf"[A-Za-z]+|[0-9]+(?:\.[0-9]+)?|[{GREEK}][{COMBINING}]*|.[{COMBINING}]*", re.S)


@dataclass
class _Node:
    """One MathML element: a leaf (``mi``, ``mn``, ``mo``, ``mtext``) with its text, or a
    script (``msub``, ``msup``, ``msubsup``, ``mrow``) with its children."""

    tag: str
    text: str = ""
    children: list[_Node] = field(default_factory=list)

    def render(self) -> str:
        if self.children:
            return f"<{self.tag}>{''.join(child.render() for child in self.children)}</{self.tag}>"
        fixed = ' stretchy="false"' if self.tag == "mo" and self.text in FENCES else ""
        return f"<{self.tag}{fixed}>{html.escape(self.text, quote=False)}</{self.tag}>"


def _row(nodes: list[_Node]) -> _Node:
    return nodes[0] if len(nodes) == 1 else _Node("mrow", children=nodes)


def _attach(nodes: list[_Node], script: _Node, kind: str) -> None:
    """Put ``script`` under (``kind`` = sub) or over (sup) the last node: a sub then a sup make one msubsup."""
    base = nodes.pop() if nodes else _Node("mtext", "")
    if kind == "sup" and base.tag == "msub":
        nodes.append(_Node("msubsup", children=base.children + [script]))
    elif kind == "sub" and base.tag == "msup":
        nodes.append(_Node("msubsup", children=[base.children[0], script, base.children[1]]))
    else:
        nodes.append(_Node("m" + kind, children=[base, script]))


def _group(text: str, start: int, opening: str, closing: str) -> tuple[str, int]:
    """The text inside the bracket opened at ``start`` (nested ones included) and the index after it."""
    depth = 0
    for index in range(start, len(text)):
        depth += {opening: 1, closing: -1}.get(text[index], 0)
        if depth == 0:
            return text[start + 1:index], index + 1
    return text[start + 1:], len(text)


def _script(text: str, index: int, kind: str) -> tuple[_Node, int]:
    """The script after ``_`` or ``^`` at ``index - 1``: a braced group, ``(…)`` for a superscript
    (its brackets dropped), else one word."""
    if index < len(text) and text[index] == "{":
        inner, end = _group(text, index, "{", "}")
        return _row(_parse(inner, scripted=True)), end
    if kind == "sup" and index < len(text) and text[index] == "(":
        inner, end = _group(text, index, "(", ")")
        return _row(_parse(inner, scripted=True)), end
    match = (_SUBSCRIPT_WORD if kind == "sub" else _SUPERSCRIPT_WORD).match(text, index)
    if not match:
        return _Node("mo", text[index - 1]), index
    return _row(_parse(match.group(), scripted=True)), match.end()


def _unicode_script(text: str, index: int, table: dict[str, str]) -> tuple[_Node, int]:
    end = index
    while end < len(text) and text[end] in table:
        end += 1
    return _row(_parse("".join(table[c] for c in text[index:end]), scripted=True)), end


def _leaf(word: str, scripted: bool) -> list[_Node]:
    """A word's nodes: numbers ``mn``, Greek letters and single letters ``mi``, function names one
    ``mi``; a longer Latin word is text in running mathematics and a name in a script."""
    if word[0].isdigit():
        return [_Node("mn", word)]
    if word[0] in GREEK or len(word) == 1 or word in FUNCTIONS or scripted:
        return [_Node("mi", word)]
    if len(word) == 2:
        return [_Node("mi", letter) for letter in word]
    return [_Node("mtext", word)]


def _parse(text: str, scripted: bool = False) -> list[_Node]:
    nodes: list[_Node] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char in "_^":
            script, index = _script(text, index + 1, "sub" if char == "_" else "sup")
            _attach(nodes, script, "sub" if char == "_" else "sup")
        elif char in SUPERSCRIPTS:
            script, index = _unicode_script(text, index, SUPERSCRIPTS)
            _attach(nodes, script, "sup")
        elif char in SUBSCRIPTS:
            script, index = _unicode_script(text, index, SUBSCRIPTS)
            _attach(nodes, script, "sub")
        elif char in "'′":
            _attach(nodes, _Node("mo", "′"), "sup")
            index += 1
        elif char == "-" and not scripted:
            nodes.append(_Node("mtext", "-"))
            index += 1
        else:
            match = _WORD.match(text, index)
            word = match.group()
            index = match.end()
            if word[0].isalpha() or word[0].isdigit():
                nodes += _leaf(word, scripted)
            else:
                nodes.append(_Node("mo", word))
    return nodes


def math_element(expression: str) -> str:
    """One ``<math>`` element for a plain-text expression (``‖∇f(W)‖_F²``)."""
    return f"<math>{''.join(node.render() for node in _parse(expression))}</math>"


def _typeset_word(word: str) -> str:
    punctuation = _TRAILING.search(word)
    body, tail = (word[:punctuation.start()], punctuation.group()) if punctuation else (word, "")
    if not body or not _MATH_WORD.search(body):
        return html.escape(word, quote=False)
    return math_element(body) + html.escape(tail, quote=False)


def _typeset_prose(text: str) -> str:
    return "".join(_typeset_word(part) if part and not part.isspace() else part for part in re.split(r"(\s+)", text))


def typeset(text: object) -> str:
    """HTML for a plain text: its mathematical words as MathML, back-quoted text as code, the rest
    escaped."""
    parts = _CODE.split(str(text))
    return "".join(f"<code>{html.escape(part, quote=False)}</code>" if odd else _typeset_prose(part)
                   for odd, part in ((index % 2 == 1, part) for index, part in enumerate(parts)))
