"""The peer's Ed25519 identity key: created on first start, kept readable by its owner only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .errors import IdentityError


def load_or_create_identity(path: str | Path) -> bytes:
    """Return the 32-byte Ed25519 seed stored at ``path``, creating the file if it is missing.

    The file is PKCS#8 PEM, mode 0600. A key readable by group or others is refused, as ssh does:
    whoever reads it can impersonate this peer.
    """
    path = Path(path)
    if not path.exists():
        return _create(path)
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise IdentityError(
            f"identity key {path} is readable by other users (mode {stat.S_IMODE(mode):o})",
            hint=f"run: chmod 600 {path}",
        )
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise IdentityError(
            f"identity key {path} is not a PEM private key: {exc}",
            hint="restore the file from a backup, or delete it to create a new identity",
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise IdentityError(f"identity key {path} is not an Ed25519 key")
    return key.private_bytes_raw()


def _create(path: Path) -> bytes:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two peers started at once on the same file must not both write a key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_or_create_identity(path)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
        f.flush()
        os.fsync(f.fileno())
    return key.private_bytes_raw()
