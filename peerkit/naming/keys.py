"""Keys the user can regenerate: wallet -> master key -> per-name keys (whitepaper, Bootstrapping).

    p = wallet.sign(passphrase)          a wallet is anything that signs bytes
    s = h(p, m)                          h: Argon2id (memory-hard) then HKDF-SHA256; m: the app's
    k = kfs(s)                           an Ed25519 key from the 32-byte seed s

Wallets (``peerkit.wallets``, re-exported here): :class:`EthereumWallet` (secp256k1, EIP-191
``personal_sign``, RFC 6979 deterministic signatures, checked against eth-account in the tests)
and :class:`Ed25519Wallet`.

Some hardware wallets sign non-deterministically, which would silently create a new identity.
So login stores a **key-check value** (the master public key); a later login that derives a
different key fails with :class:`KeyDrift` instead.

Every derived key is domain-separated: the bytes signed or hashed for a name key, the Me DAG
key, etc. start with a distinct ``peerkit/...`` label, so no two purposes share a key.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .. import domains
from ..identity import public_bytes  # noqa: F401 (re-exported: keys' raw public bytes)
from ..wallets import Ed25519Wallet, EthereumWallet, KeyError_, Wallet

__all__ = [
    "ME_NAME",
    "Ed25519Wallet",
    "EthereumWallet",
    "KdfParams",
    "KeyDrift",
    "KeyError_",
    "MasterKey",
    "Wallet",
    "derive_master_key",
    "login_message",
    "name_key",
]

NAME_KEY_DOMAIN = domains.NAME_KEY
ME_NAME = "peerkit/me"


class KeyDrift(KeyError_):
    """The wallet gave a different signature than at the first login."""

    code = "key_drift"


@dataclass(frozen=True)
class KdfParams:
    """The memory-hard step's parameters; recorded beside the key-check value."""

    memory_kib: int = 64 * 1024
    iterations: int = 3
    lanes: int = 4
    salt_label: bytes = b"peerkit/master-key/v1"


FAST_TEST_KDF = KdfParams(memory_kib=8 * 1024, iterations=1, lanes=1)


@dataclass(frozen=True)
class MasterKey:
    private: Ed25519PrivateKey

    @property
    def public(self) -> bytes:
        return self.private.public_key().public_bytes_raw()

    @property
    def check_value(self) -> str:
        """What login stores to detect a drifted wallet signature (not secret)."""
        return self.public.hex()

    def derive(self, purpose: str, length: int = 32) -> bytes:
        """Secret bytes for one purpose (e.g. "me-dag/encryption"), domain-separated."""
        seed = self.private.private_bytes_raw()
        return HKDF(
            hashes.SHA256(), length, salt=b"peerkit/derive/v1", info=purpose.encode()
        ).derive(seed)


def login_message(passphrase: str) -> bytes:
    """What the wallet signs at login (a browser's wallet shows it to its user)."""
    return b"peerkit login\n" + passphrase.encode()


def derive_master_key(
    wallet: Wallet,
    passphrase: str,
    app_message: str,
    *,
    kdf: KdfParams = KdfParams(),
    expected_check: str | None = None,
) -> MasterKey:
    """p = wallet.sign(passphrase); s = h(p, m); k = kfs(s). KeyDrift if the check fails."""
    if not passphrase:
        raise KeyError_("the passphrase is empty")
    p = wallet.sign(login_message(passphrase))
    salt = hashlib.sha256(kdf.salt_label + b"\x00" + app_message.encode()).digest()
    stretched = Argon2id(
        salt=salt, length=32, iterations=kdf.iterations, lanes=kdf.lanes, memory_cost=kdf.memory_kib
    ).derive(p)
    seed = HKDF(hashes.SHA256(), 32, salt=salt, info=b"peerkit/master-key/v1").derive(stretched)
    key = MasterKey(Ed25519PrivateKey.from_private_bytes(seed))
    if expected_check is not None and not hmac.compare_digest(key.check_value, expected_check):
        raise KeyDrift(
            "this wallet and passphrase give a different master key than before",
            hint="some hardware wallets sign non-deterministically; use the wallet you"
            " logged in with first, or check the passphrase",
        )
    return key


def name_key(master: MasterKey, name: str) -> Ed25519PrivateKey:
    """The Ed25519 key of a user-entered name: seeded by the master key's signature of it."""
    if not name or len(name) > 256:
        raise KeyError_("a name is 1-256 characters")
    sig = master.private.sign(NAME_KEY_DOMAIN + name.encode())  # Ed25519: deterministic
    seed = HKDF(hashes.SHA256(), 32, salt=NAME_KEY_DOMAIN, info=b"seed").derive(sig)
    return Ed25519PrivateKey.from_private_bytes(seed)
