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

from collections.abc import Hashable, Mapping

import numpy as np

#: What each kind of measurement seen in this process was found to allow: True, all members
#: together; False, one member at a time
_DECISIONS: dict[Hashable, bool] = {}

Values = Mapping[tuple[str, str], np.ndarray]  # (output, stage) -> [K, ...]


def known(kind: Hashable) -> bool | None:
    """Whether ``kind`` is measured together (True) or member by member (False); None when it
    has not been checked in this process yet."""
    return _DECISIONS.get(kind)


def decide(kind: Hashable, together: Values, apart: Values) -> bool:
    """Record and return whether the values measured together equal, bit for bit (NaN where
    NaN), those measured member by member: whether ``kind`` is measured together from now on."""
    same = together.keys() == apart.keys() and all(
        together[key].shape == apart[key].shape and np.array_equal(together[key], apart[key], equal_nan=True)
        for key in apart)
    _DECISIONS[kind] = same
    return same
