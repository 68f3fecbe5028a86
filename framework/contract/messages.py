"""Wording shared by every layer that explains a problem to the user: where it is, and which
name was probably meant.

The pipeline checks (``framework.configuration``, ``framework.planning``), the plugin registry
and the contract check (``framework.plugin_system``) all name key paths and refuse names: keys,
grid axes, stages, components, hooks. They live above this layer, so a key path is written and
a suggestion is offered once here, and both read the same wherever a problem is reported.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

KeyPath = tuple[str | int, ...]
PLAIN_KEY = re.compile(r"[A-Za-z0-9_\-]+")  # matched whole: "$" would also match before a final newline
CLOSENESS = 0.6  # difflib's ratio a choice must reach to be suggested


def format_path(path: KeyPath) -> str:
    """``("stages", "train", "params", "lr")`` as ``stages.train.params.lr``; items as ``[0]``;
    a key that is not a plain word (spaces, dots, control characters) quoted, as ``['a b']``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text = f"{text}[{part}]"
        elif not PLAIN_KEY.fullmatch(str(part)):
            text = f"{text}[{str(part)!r}]"
        else:
            text = f"{text}.{part}" if text else str(part)
    return text


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to ``word`` when one is close enough to be what was meant, else ``None``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=CLOSENESS)
    return close[0] if close else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``; did you mean 'x'?`` naming the choice closest to ``word``, or nothing when none is close.

    Appended to a message that refuses ``word`` (``unknown key; did you mean 'stages'?``) as a
    clause of its own, so it cannot be read as being about another name in the message."""
    close = closest(word, choices)
    return f"; did you mean '{close}'?" if close is not None else ""
