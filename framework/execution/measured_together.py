"""Whether a padded ensemble's diagnostics (and ``lr: auto``'s rates) are measured on all its
members at once: checked, once per kind of measurement in a worker process, by measuring both
ways.

A padded member's diagnostics see it cut back to its real n and m (``framework.engine.padding``):
the network it would be unpadded. Cut back together, as one ensemble, the members' blocks no
longer fill whole 64-byte lines, and a member's products may go through other kernels than
alone (a BLAS kernel may round a block by where it sits; with more than one torch thread, a
lone member's product is split across threads where a batch's is not), so a member measured
with the others could get other last bits than measured alone. Whether it does depends on the
shapes, the diagnostics, the threads and the machine's BLAS (on one 2-core CPU, float64, one
thread: every built-in diagnostic agreed at every shape tried, n = 4..13, m = 12..203; with two
threads, at n = 13, m = 203, most outputs differed), so it is checked rather than assumed. The
first time a kind of measurement (the shapes, dtype, device, ensemble size and the diagnostics
due) is made in a process, it is made both ways; only if every output of every member agrees
bit for bit is that kind measured together from then on. Otherwise, and at the check, the
member-by-member values are the ones kept: a member's values never depend on its ensemble.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import TypeVar

import numpy as np
import torch

#: What each kind of measurement seen in this process was found to allow: True, all members
#: together; False, one member at a time
_DECISIONS: dict[Hashable, bool] = {}

Values = TypeVar("Values", bound=Mapping[Hashable, "np.ndarray | torch.Tensor"])  # name -> [K, ...]


def measured(kind: Hashable, members: int, together: Callable[[], Values], apart: Callable[[], Values]) -> Values:
    """The values of ``members`` members, each ``[K, ...]``: ``together()`` measures them all at
    once, ``apart()`` each on its own. One member together is the member alone; else the first
    time ``kind`` is seen in this process both are measured and compared, and ``together`` serves
    from then on only if they agreed bit for bit. ``apart``'s values are the ones returned until
    then, and always where they did not agree."""
    if members == 1 or _DECISIONS.get(kind):
        return together()
    values = apart()
    if kind not in _DECISIONS:
        _DECISIONS[kind] = _same(together(), values)
    return values


def _same(together: Mapping[Hashable, np.ndarray | torch.Tensor], apart: Mapping[Hashable, np.ndarray | torch.Tensor]
          ) -> bool:
    """Whether two measurements agree bit for bit, NaN where NaN."""
    def array(value: np.ndarray | torch.Tensor) -> np.ndarray:
        return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value

    return together.keys() == apart.keys() and all(
        array(together[key]).shape == array(apart[key]).shape
        and np.array_equal(array(together[key]), array(apart[key]), equal_nan=True) for key in apart)
