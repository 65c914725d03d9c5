"""The peer's Ed25519 identity key: created on first start, kept readable by its owner only;
and the peer id that names it (the same on every transport)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

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


# --- peer ids: base58btc of the identity multihash of libp2p's PublicKey protobuf ----------

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def encode_base(data: bytes, alphabet: str) -> str:
    """Big-endian base-N text of ``data``; leading zero bytes become the alphabet's first digit
    (the multibase rule shared by base36 and base58btc)."""
    n = int.from_bytes(data, "big")
    base = len(alphabet)
    out = ""
    while n:
        n, r = divmod(n, base)
        out = alphabet[r] + out
    return alphabet[0] * (len(data) - len(data.lstrip(b"\0"))) + out


def public_bytes(key: bytes | Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The raw 32-byte Ed25519 public key of a private key, a public key or raw bytes."""
    if isinstance(key, Ed25519PrivateKey):
        key = key.public_key()
    if isinstance(key, Ed25519PublicKey):
        return key.public_bytes_raw()
    return key


def pubkey_proto(pub: bytes) -> bytes:
    return b"\x08\x01\x12\x20" + pub  # libp2p PublicKey{Type: Ed25519, Data: pub}


def peer_id_for_public(pub: bytes) -> str:
    """The libp2p peer id (``12D3KooW...``) of a raw Ed25519 public key."""
    return encode_base(b"\x00\x24" + pubkey_proto(pub), B58)


def peer_id_of_seed(seed: bytes) -> str:
    """The peer id of the identity key with this 32-byte seed (what libp2p computes)."""
    return peer_id_for_public(public_bytes(Ed25519PrivateKey.from_private_bytes(seed)))
