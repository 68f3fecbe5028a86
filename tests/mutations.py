"""Walking parsed pipeline data, for the tests that mutate valid pipelines at random."""
from __future__ import annotations


def key_paths(data: object, prefix: tuple = ()) -> list[tuple]:
    """Every key path into nested mappings and lists."""
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else []
    paths = []
    for key, value in items:
        paths.append(prefix + (key,))
        paths += key_paths(value, prefix + (key,))
    return paths


def parent_of(data: object, path: tuple) -> object:
    """The container that holds the last key of ``path``."""
    for key in path[:-1]:
        data = data[key]
    return data
