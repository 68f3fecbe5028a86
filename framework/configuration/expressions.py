"""A safe evaluator for the small arithmetic expressions pipeline files allow (``0.05/m``, ``2*L``).

The text is parsed with Python's ``ast`` and only numbers, names of known variables, the
operators ``+ - * / // % **``, unary signs, parentheses and the functions in ``FUNCTIONS`` are
accepted; nothing is ever passed to ``eval``. Arithmetic is in floats, so no expression can
build an integer of unbounded size. Anything else raises ``ExpressionError`` saying
what was found and what is allowed.
"""
from __future__ import annotations

import ast
import functools
import math
import operator
from collections.abc import Mapping
from typing import Callable

BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
UNARY: dict[type[ast.unaryop], Callable[[float], float]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
FUNCTIONS: dict[str, Callable[..., float]] = {
    "sqrt": math.sqrt,
    "log": math.log,
    "log2": math.log2,
    "exp": math.exp,
    "min": min,
    "max": max,
    "abs": abs,
}
MAX_LENGTH = 200
MAX_POWER = 64


class ExpressionError(ValueError):
    """An expression that is not allowed or cannot be evaluated; the message says why."""


def names_in(text: str) -> set[str]:
    """The variable names an expression uses (function names excluded)."""
    tree = _parse(text)
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and id(node) not in called}


def _syntax_reason(text: str, error: SyntaxError) -> str:
    """Why text does not parse, in the project's words rather than Python's."""
    if "," in text:
        return "a comma is not part of a number: decimals take a point"
    if text.count("(") != text.count(")"):
        return "its parentheses do not pair up"
    column = f" at character {error.offset}" if error.offset else ""
    return f"it does not read as arithmetic{column}"


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> ast.Expression:
    """The syntax tree of an expression, parsed once per text (a grid repeats few texts; the
    tree is only read)."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_LENGTH} characters")
    try:
        return ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"{text!r} is not an arithmetic expression ({_syntax_reason(text, exc)})") from None
    except ValueError as exc:  # null bytes (Python 3.11)
        raise ExpressionError(f"{text!r} is not an arithmetic expression ({exc})") from None


def evaluate(text: str, variables: Mapping[str, float]) -> float:
    """The value of ``text`` with ``variables`` bound; raises ``ExpressionError``."""
    tree = _parse(text)

    def value(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            try:  # floats throughout: integer powers could otherwise grow without bound
                return float(node.value)
            except OverflowError:
                raise ExpressionError(f"the number {node.value} in {text!r} is too large") from None
        if isinstance(node, ast.Name):
            if node.id not in variables:
                known = ", ".join(sorted(variables)) or "none"
                raise ExpressionError(f"unknown name {node.id!r} in {text!r} (known: {known})")
            return float(variables[node.id])
        if isinstance(node, ast.BinOp) and type(node.op) in BINARY:
            left, right = value(node.left), value(node.right)
            if isinstance(node.op, ast.Pow) and abs(right) > MAX_POWER:
                raise ExpressionError(f"exponent {right} in {text!r} exceeds {MAX_POWER}")
            try:
                return BINARY[type(node.op)](left, right)
            except (ZeroDivisionError, OverflowError, ValueError, TypeError) as exc:
                raise ExpressionError(f"{text!r} cannot be evaluated: {exc}") from None
        if isinstance(node, ast.UnaryOp) and type(node.op) in UNARY:
            return UNARY[type(node.op)](value(node.operand))
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS
                and not node.keywords):
            try:
                return FUNCTIONS[node.func.id](*(value(a) for a in node.args))
            except (TypeError, ValueError, OverflowError) as exc:
                raise ExpressionError(f"{text!r} cannot be evaluated: {exc}") from None
        allowed = "numbers, names, + - * / // % **, parentheses and " + ", ".join(FUNCTIONS)
        raise ExpressionError(f"{ast.unparse(node)!r} is not allowed in {text!r} (allowed: {allowed})")

    result = value(tree.body)
    if isinstance(result, complex) or not math.isfinite(result):
        raise ExpressionError(f"{text!r} evaluates to {result}, not a finite number")
    return result
