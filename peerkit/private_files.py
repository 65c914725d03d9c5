"""Files and folders that hold secrets: owner-only (0600/0700) whatever existed before.

``os.open(..., 0o600)`` sets a mode only when it creates the file: a session file someone left
0644 stayed 0644 after the next login. Here a secret is written to a new 0600 file beside the
target and renamed over it (atomic: a crash leaves the old file or the new one, never half),
and folders are chmod-ed to 0700 every time.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def private_dir(path: str | Path) -> Path:
    """Create ``path`` (and parents) if needed and make it 0700."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    os.chmod(path, PRIVATE_DIR)
    return path


def write_private(path: str | Path, data: bytes | str) -> None:
    """Replace ``path`` with ``data``, mode 0600, atomically (the parent folder must exist)."""
    path = Path(path)
    raw = data.encode() if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, PRIVATE_FILE)  # in case a umask or ACL widened it
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def make_private(path: str | Path) -> None:
    """chmod 0600 if ``path`` exists (files written by libraries, e.g. SQLite's)."""
    with contextlib.suppress(FileNotFoundError):
        os.chmod(path, PRIVATE_FILE)
