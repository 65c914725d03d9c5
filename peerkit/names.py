"""IPNS names: the name of an Ed25519 key (``k51...``), and the key inside a name.

Core, not naming's: any family names keys (a DCS member's stream, a capability on a name)
whether or not this node runs the naming family. The name is the CIDv1 ``libp2p-key`` of the
public key, inlined with an identity multihash, written in base36 as Kubo does.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import PeerkitError
from .identity import encode_base, peer_id_for_public, pubkey_proto, public_bytes

LIBP2P_KEY = 0x72
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


class RecordError(PeerkitError):
    """A name record was refused; the message says which rule it broke."""

    code = "bad_record"


def name_for(pub: bytes | Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """The IPNS name (``k51...``) of an Ed25519 public key."""
    pub = public_bytes(pub)
    cid = bytes([0x01, LIBP2P_KEY, 0x00, 36]) + pubkey_proto(pub)
    return "k" + _base36(cid)


def peer_id_for(pub: bytes | Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """The same key as a libp2p peer id (base58btc identity multihash, ``12D3KooW...``)."""
    return peer_id_for_public(public_bytes(pub))


def pubkey_of(name: str) -> bytes:
    """The Ed25519 public key inlined in a ``k51...`` name. RecordError if it is not one."""
    if not name.startswith("k"):
        raise RecordError(f"{name!r} is not an IPNS name (expected base36 k51...)")
    try:
        raw = _unbase36(name[1:])
    except ValueError:
        raise RecordError(f"{name!r} is not valid base36") from None
    prefix = bytes([0x01, LIBP2P_KEY, 0x00, 36, 0x08, 0x01, 0x12, 0x20])
    if len(raw) != len(prefix) + 32 or not raw.startswith(prefix):
        raise RecordError(f"{name!r} does not inline an Ed25519 key")
    return raw[len(prefix) :]


def _base36(data: bytes) -> str:
    return encode_base(data, _B36)


def _unbase36(text: str) -> bytes:
    zeros = len(text) - len(text.lstrip("0"))
    n = int(text, 36) if text.lstrip("0") else 0
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * zeros + body
