"""The exclusive claim of one run on its store: an OS lock on a file beside it."""
from __future__ import annotations

import fcntl
import json
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from framework.storage.schema import now

LOCK_SUFFIX = ".lock"


class StoreError(Exception):
    """A store that cannot be used as asked; the message says why and what to do."""


def _alive(pid: Any) -> bool:
    """Whether a process of this pid runs on this machine."""
    try:
        os.kill(int(pid), 0)
    except (TypeError, ValueError, ProcessLookupError):
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


@dataclass
class StoreLock:
    """An exclusive claim on a store for one run: an OS lock (``flock``) on a file beside it.

    The kernel holds the claim for exactly as long as the run's process lives, so a run killed
    by SIGKILL leaves no claim behind (its file is reused by the next run), and two runs
    started at the same instant cannot both get it. The file records the holder's pid, host
    and start time, which a refused run prints; it is removed when the run ends.
    """

    store: Path
    _descriptor: int | None = field(default=None, init=False, repr=False)
    _created: list[Path] = field(default_factory=list, init=False, repr=False)  # folders made for the lock

    @property
    def path(self) -> Path:
        return self.store.with_name(self.store.name + LOCK_SUFFIX)

    def acquire(self) -> StoreLock:
        self._created = [folder for folder in (self.path.parent, *self.path.parent.parents) if not folder.exists()]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(100):
            descriptor = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(descriptor)
                holder = self._holder()
                raise StoreError(
                    f"store {self.store} is in use by another overparam run (pid {holder.get('pid', '?')} on "
                    f"{holder.get('host', '?')} since {holder.get('since', '?')}); wait for it to finish") from None
            if self._still_at_path(descriptor):
                claim = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": now()}).encode()
                os.ftruncate(descriptor, 0)
                os.pwrite(descriptor, claim, 0)
                self._descriptor = descriptor
                return self
            os.close(descriptor)  # the holder removed this file as we opened it: lock the new one
        raise StoreError(f"could not lock store {self.store}: {self.path} keeps being replaced")

    def _still_at_path(self, descriptor: int) -> bool:
        """Whether the locked file is still the one at ``path`` (not unlinked by a finishing run)."""
        try:
            return os.stat(self.path).st_ino == os.fstat(descriptor).st_ino
        except FileNotFoundError:
            return False

    def release(self) -> None:
        """Remove the file, then drop the claim (in this order, so no one locks a removed file);
        remove the folders made for it if nothing else went into them (a run that could not
        start leaves nothing on disk)."""
        if self._descriptor is not None:
            self.path.unlink(missing_ok=True)
            os.close(self._descriptor)
            self._descriptor = None
            for folder in self._created:  # deepest first
                try:
                    folder.rmdir()
                except OSError:  # not empty: the run wrote there
                    break
            self._created = []

    def __enter__(self) -> StoreLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def running_holder(self) -> dict[str, Any] | None:
        """The run that holds the store now (its pid, host and start), read from the lock file
        without locking anything (a probe could refuse a run starting that instant): the file
        exists only while a run holds it, or after one was killed, whose pid is gone. A holder
        on another host is taken as running."""
        holder = self._holder() if self.path.exists() else {}
        if not holder:
            return None
        if holder.get("host") == socket.gethostname() and not _alive(holder.get("pid")):
            return None
        return holder

    def _holder(self) -> dict[str, Any]:
        try:
            return json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            return {}
