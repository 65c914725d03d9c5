"""Who signs: principals named by DIDs, and the signers that hold their keys.

- ``did:key:z6Mk...``: an Ed25519 key (a peer's key, a name's key, any derived key). A libp2p
  peer id of an Ed25519 key inlines the same public key, so peers and DIDs convert both ways.
- ``did:pkh:eip155:1:0xAbC...``: an Ethereum account; it signs with EIP-191 ``personal_sign``,
  so the user's wallet signature alone can issue a delegation.
"""

from __future__ import annotations

import functools
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from ..errors import PeerkitError
from ..identity import B58, encode_base, peer_id_for_public
from ..wallets import EthereumWallet, KeyError_

ED25519_PUB = b"\xed\x01"  # multicodec ed25519-pub, varint
DID_KEY = "did:key:z"
DID_PKH = "did:pkh:eip155:1:"


class PrincipalError(PeerkitError):
    code = "auth_principal"


class Signer(Protocol):
    """Anything that can sign for a DID: ``alg`` names how its signatures are checked."""

    @property
    def did(self) -> str: ...

    @property
    def alg(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...


class Ed25519Signer:
    """A peer key, a name key or any Ed25519 key."""

    alg = "EdDSA"

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.did = did_for_ed25519(key.public_key().public_bytes_raw())

    @classmethod
    def from_seed(cls, seed: bytes) -> Ed25519Signer:
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)


class WalletSigner:
    """The user's Ethereum wallet, signing EIP-191 messages (as MetaMask's personal_sign)."""

    alg = "EIP191"

    def __init__(self, wallet: EthereumWallet) -> None:
        self._wallet = wallet
        self.did = DID_PKH + wallet.address

    def sign(self, data: bytes) -> bytes:
        return self._wallet.sign(data)


def did_for_ed25519(pub: bytes) -> str:
    return DID_KEY + encode_base(ED25519_PUB + pub, B58)


@functools.lru_cache(maxsize=4096)
def did_for_peer(peer_id: str) -> str | None:
    """The did:key of an Ed25519 libp2p peer id (``12D3KooW...``); None for other ids."""
    try:
        raw = _unbase58(peer_id)
    except ValueError:
        return None
    prefix = b"\x00\x24\x08\x01\x12\x20"  # identity multihash of PublicKey{Ed25519, 32 bytes}
    if len(raw) != len(prefix) + 32 or not raw.startswith(prefix):
        return None
    return did_for_ed25519(raw[len(prefix) :])


def peer_for_did(did: str) -> str | None:
    """The peer id of a did:key (None for other DIDs)."""
    pub = ed25519_of(did)
    return peer_id_for_public(pub) if pub is not None else None


@functools.lru_cache(maxsize=4096)  # a handful of principals sign most tokens
def ed25519_of(did: str) -> bytes | None:
    if not did.startswith(DID_KEY):
        return None
    try:
        raw = _unbase58(did[len(DID_KEY) :])
    except ValueError:
        return None
    if len(raw) != 34 or not raw.startswith(ED25519_PUB):
        return None
    return raw[2:]


@functools.lru_cache(maxsize=4096)
def check_did(did: str) -> str:
    """``did`` if it is a DID peerkit can verify; PrincipalError otherwise."""
    if ed25519_of(did) is not None:
        return did
    if did.startswith(DID_PKH) and _is_address(did[len(DID_PKH) :]):
        return did
    raise PrincipalError(
        f"{did!r} is not a DID peerkit can verify",
        hint="use did:key:z6Mk... (Ed25519) or did:pkh:eip155:1:0x... (Ethereum)",
    )


def verify(did: str, alg: str, data: bytes, signature: bytes) -> bool:
    """True when ``signature`` over ``data`` was made by ``did``'s key with ``alg``."""
    if alg == "EdDSA":
        pub = ed25519_of(did)
        if pub is None or len(signature) != 64:
            return False
        try:
            _verify_key(pub).verify(data, signature)
            return True
        except BadSignatureError:
            return False
    if alg == "EIP191" and did.startswith(DID_PKH):
        try:
            return EthereumWallet.recover(data, signature) == did[len(DID_PKH) :]
        except (KeyError_, ValueError):
            return False
    return False


@functools.lru_cache(maxsize=4096)
def _verify_key(pub: bytes) -> VerifyKey:
    return VerifyKey(pub)  # libsodium: twice as fast as cryptography here (see naming/records)


def _is_address(text: str) -> bool:
    if len(text) != 42 or not text.startswith("0x"):
        return False
    try:
        int(text[2:], 16)
    except ValueError:
        return False
    return True


def _unbase58(text: str) -> bytes:
    n = 0
    for ch in text:
        digit = B58.find(ch)
        if digit < 0:
            raise ValueError(f"{ch!r} is not base58btc")
        n = n * 58 + digit
    zeros = len(text) - len(text.lstrip("1"))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    raw = b"\0" * zeros + body
    if encode_base(raw, B58) != text:
        raise ValueError("not canonical base58btc")
    return raw
