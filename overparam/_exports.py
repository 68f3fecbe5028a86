"""Public names loaded on first use, so that ``import overparam`` stays cheap.

Each of ``overparam``'s modules lists its names with the module that defines each. At run time
a name is imported the first time it is asked for (PEP 562), so the command line and plugin
discovery start without importing torch, Dask or xarray; type checkers and IDEs read the same
names from the modules' ``if TYPE_CHECKING:`` imports, which they treat as real ones (each
written ``import NAME as NAME``, the explicit re-export ``mypy --strict`` asks of a package).
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(namespace: dict[str, Any], exports: Mapping[str, str]) -> tuple[Callable[[str], Any],
                                                                                Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a module whose public names are ``exports``
    (name -> defining module); ``namespace`` is the module's ``globals()``, where a loaded name
    is kept so that it is imported once."""
    module_name = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name]), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace.get("__all__", exports), *(k for k in namespace if not k.startswith("_"))})

    return __getattr__, __dir__
