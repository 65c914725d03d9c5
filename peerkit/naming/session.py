"""The login session: the master key, sealed under the passphrase, so the wallet is needed only
at login and the passphrase keeps protecting the key on disk.

Deriving the master key takes the wallet's signature *and* the passphrase. A session that kept
the master seed in clear would make the file alone worth as much as both, so the seed is sealed
with ChaCha20-Poly1305 under a key stretched from the passphrase by Argon2id with a random salt
(the same memory-hard parameters as the master key). Commands that sign ask for the passphrase
again (or read ``PEERKIT_PASSPHRASE``); the wallet can stay offline. What is kept in clear is
not secret: the key-check value (the master public key), the app, the wallet address, the KDF
parameters. See docs/naming.md.
"""

from __future__ import annotations

import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from ..errors import PeerkitError
from .keys import KdfParams, MasterKey

VERSION = 2
_AAD = b"peerkit/session/v2"


class SessionError(PeerkitError):
    code = "session"


def _unlock_key(passphrase: str, salt: bytes, kdf: KdfParams) -> bytes:
    return Argon2id(
        salt=salt, length=32, iterations=kdf.iterations, lanes=kdf.lanes, memory_cost=kdf.memory_kib
    ).derive(passphrase.encode())


def seal_session(
    master: MasterKey, passphrase: str, *, app: str, address: str, kdf: KdfParams
) -> dict[str, Any]:
    """The session document to store (JSON-ready); nothing in it recovers the key alone."""
    salt = os.urandom(16)
    nonce = os.urandom(12)
    sealed = ChaCha20Poly1305(_unlock_key(passphrase, salt, kdf)).encrypt(
        nonce, master.private.private_bytes_raw(), _AAD + master.check_value.encode()
    )
    return {
        "version": VERSION,
        "check": master.check_value,
        "app": app,
        "address": address,
        "kdf": {"memory_kib": kdf.memory_kib, "iterations": kdf.iterations, "lanes": kdf.lanes},
        "sealed_master": {"salt": salt.hex(), "nonce": nonce.hex(), "box": sealed.hex()},
    }


def open_session(doc: dict[str, Any], passphrase: str) -> MasterKey:
    """The master key from a stored session; SessionError for a wrong passphrase or a file
    that is not a session peerkit can read."""
    try:
        if doc.get("version") != VERSION:
            raise SessionError(
                "this session file is from an older peerkit (it kept the key in clear)",
                hint="run: peerkit login (it replaces the file)",
            )
        kdf = KdfParams(**doc["kdf"])
        box = doc["sealed_master"]
        salt, nonce, sealed = (bytes.fromhex(box[k]) for k in ("salt", "nonce", "box"))
        check = str(doc["check"])
    except (KeyError, TypeError, ValueError, AttributeError):
        raise SessionError(
            "the session file is damaged", hint="run: peerkit login (it replaces the file)"
        ) from None
    try:
        seed = ChaCha20Poly1305(_unlock_key(passphrase, salt, kdf)).decrypt(
            nonce, sealed, _AAD + check.encode()
        )
    except InvalidTag:
        raise SessionError(
            "wrong passphrase for this session", hint="use the passphrase you logged in with"
        ) from None
    except ValueError as exc:  # a nonce or salt of the wrong size
        raise SessionError(f"the session file is damaged: {exc}") from None
    master = MasterKey(Ed25519PrivateKey.from_private_bytes(seed))
    if master.check_value != check:
        raise SessionError("the session file is damaged (key check failed)")
    return master
