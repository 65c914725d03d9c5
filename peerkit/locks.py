"""One running peer per identity and per data store: an exclusive lock on a file beside each.

Two peers with one identity would split its connections and both answer as it; two peers on
one SQLite store would each trust its own view of what is pinned. ``hold`` takes an advisory
lock (``flock``) on ``<file>.lock``, which the operating system drops when the process ends,
however it ends: a crashed peer never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from .errors import ConfigError


class InUse(ConfigError):
    """An identity file or a data store is in use by a peer that is running."""

    code = "in_use"


class Lock:
    def __init__(self, path: Path, handle: int) -> None:
        self.path = path
        self._handle: int | None = handle

    def release(self) -> None:
        if self._handle is not None:
            os.close(self._handle)  # closing drops the flock
            self._handle = None


def hold(target: Path, *, what: str, source: str | None = None) -> Lock:
    """Lock ``target`` for this process (InUse, naming the holder's pid, if another has it)."""
    lock_path = target.with_name(target.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    handle = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(handle, 32, 0).decode(errors="replace").strip() or "?"
        os.close(handle)
        raise InUse(
            f"{what} {target} is in use by a running peer (pid {holder})",
            path=source,
            hint="stop that peer first, or give this one its own identity and data folder",
        ) from None
    os.ftruncate(handle, 0)
    os.pwrite(handle, f"{os.getpid()}\n".encode(), 0)
    return Lock(lock_path, handle)
