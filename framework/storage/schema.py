"""What a run store holds, as names and codes: shared by the writer (``framework.storage.store``) and
the checker (``framework.storage.check``), which must agree on them and need nothing else of each
other (the checker imports no Dask and no torch)."""
from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from hashlib import sha256
from typing import Any


DEFAULT_FLUSH_INTERVAL = 5.0  # seconds between two writes of finished grid points, at most
MISSING_COUNT = -1  # an integer variable's fill value: never a count
IDENTITY_IGNORES = ("description", "store")  # keys a pipeline may change and still resume its store


def now() -> str:
    """The current UTC time in ISO 8601, to the second, as stores record it."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def pipeline_digest(data: Mapping[str, Any]) -> str:
    """The hash of what a pipeline computes: its parsed content without ``description`` and
    ``store``, so comments, layout and wording may change and a store still resumes."""
    content = {k: v for k, v in data.items() if k not in IDENTITY_IGNORES}
    return sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _flatten(value: Any, path: str = "") -> dict[str, Any]:
    """Nested mappings as ``{"stages.train.params.lr": 0.05/m}``; lists and scalars are leaves."""
    if isinstance(value, Mapping) and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{path}.{key}" if path else str(key)))
        return out
    return {path: value}


def _stored_and_new(stored_text: str, raw: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    import yaml

    try:
        stored = yaml.safe_load(stored_text) or {}
    except yaml.YAMLError:
        stored = {}
    before = {k: v for k, v in _flatten(stored).items() if k.split(".")[0] not in IDENTITY_IGNORES}
    after = {k: v for k, v in _flatten(dict(raw)).items() if k.split(".")[0] not in IDENTITY_IGNORES}
    return before, after


def differing_keys(stored_text: str, raw: Mapping[str, Any]) -> list[str]:
    """The keys (``stages.train.params.lr``, ``grid.seed``) in which a pipeline differs from
    the one a store was made from, sorted."""
    before, after = _stored_and_new(stored_text, raw)
    absent = object()
    return [key for key in sorted(set(before) | set(after)) if before.get(key, absent) != after.get(key, absent)]


def changed_keys(stored_text: str, raw: Mapping[str, Any]) -> str:
    """The keys in which a pipeline differs from the one a store was made from, in words:
    ``stages.train.params.lr: 0.05/m there, 0.1/m here; grid.seed: only here``."""
    before, after = _stored_and_new(stored_text, raw)
    parts = []
    for key in differing_keys(stored_text, raw):
        if key not in after:
            parts.append(f"{key}: only in the store's")
        elif key not in before:
            parts.append(f"{key}: only in this file")
        else:
            parts.append(f"{key}: {before[key]!r} in the store's, {after[key]!r} here")
    if not parts:
        return "the same keys, read differently"
    shown = "; ".join(parts[:6])
    return shown + (f"; and {len(parts) - 6} more" if len(parts) > 6 else "")
