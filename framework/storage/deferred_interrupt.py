"""Ctrl-C held back while a write, or the recording of finished points, is under way, then delivered.

A ``KeyboardInterrupt`` raised between a chunk's values and its ``status``, or between counting
a finished point and handing it to the write buffer, would leave points unwritten while the run
counts them as kept (seen twice: a run interrupted during its periodic flush, and one
interrupted just after it printed a point as finished). Inside
``ctrl_c_deferred`` a SIGINT is only remembered; when the block ends it goes to the handler
that was there before, which raises as usual. Only the main thread receives signals, so
elsewhere this does nothing. A SIGKILL cannot be held back: for that the store writes
``status`` last (``framework.storage.store``).
"""
from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def ctrl_c_deferred() -> Iterator[None]:
    """Run the block to its end whatever SIGINTs arrive; deliver the first one afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[tuple[int, FrameType | None]] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: arrived.append((signum, frame)))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if arrived and callable(previous):
            previous(*arrived[0])
