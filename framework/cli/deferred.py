"""Deferring the import of torch while a pipeline is only validated or planned.

Validating a pipeline loads every plugin module, and most of them ``import torch`` at the top
for the code that computes; importing torch takes over a second, longer than all the rest of
``overparam validate``. Inside ``deferred_torch()``, ``import torch`` gives a stand-in module
whose first missing attribute (``torch.randn``, ``from torch import Tensor``, a submodule)
imports the real torch and answers from it; validation never asks, since nothing is
computed. (``importlib.util.LazyLoader`` cannot do this on Python 3.11: the import statement
itself reads the module's ``__spec__``, which loads it.) Code on the validation path uses
torch only inside functions, and imports ``Tensor`` for annotations under ``TYPE_CHECKING``.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

DEFERRED = ("torch",)


class DeferredModule(types.ModuleType):
    """Stands for a module not imported yet; the first attribute it lacks imports the real one."""

    def __init__(self, name: str):
        super().__init__(name)
        self.__dict__["_deferred_real"] = None

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__") and attribute not in ("__path__", "__file__", "__version__"):
            raise AttributeError(attribute)
        return getattr(self.real(), attribute)

    def real(self) -> types.ModuleType:
        """The module itself, imported now if it was not."""
        real = self.__dict__["_deferred_real"]
        if real is None:
            if sys.modules.get(self.__name__) is self:
                del sys.modules[self.__name__]
            real = importlib.import_module(self.__name__)
            self.__dict__["_deferred_real"] = real
        return real


@contextmanager
def deferred_torch() -> Iterator[None]:
    """Within the block, a first ``import torch`` gets a ``DeferredModule``. It stays in
    ``sys.modules`` afterwards (plugin modules hold it) and imports torch whenever used."""
    for name in DEFERRED:
        if name not in sys.modules and importlib.util.find_spec(name) is not None:
            sys.modules[name] = DeferredModule(name)
    yield
