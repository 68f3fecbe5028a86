"""How a run gets its workers, as the command line states it: kept apart from
``framework.execution.cluster`` so that reading the options imports no Dask."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LOCALHOST = "127.0.0.1"
DEFAULT_TIMEOUT = 5.0  # seconds to reach a scheduler and to see its first worker


class ClusterError(Exception):
    """A cluster that cannot be reached or used; the message names the address and what was tried."""


@dataclass(frozen=True)
class ClusterOptions:
    """How to get workers: ``scheduler`` (an address, reached within ``timeout`` seconds) or a
    local cluster of ``workers`` × ``threads`` (defaults from the cores or GPUs) listening on
    ``host``; ``dashboard`` starts Dask's dashboard on the same interface; or ``client``, a Dask
    client the caller already has (``distributed.Client``), used as it is and left open."""

    scheduler: str | None = None
    workers: int | None = None
    threads: int | None = None
    dashboard: bool = False
    host: str = LOCALHOST
    timeout: float = DEFAULT_TIMEOUT
    client: Any = None
