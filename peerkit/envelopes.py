"""Identities and sealed envelopes: the one construction peerkit seals secrets with (DCS
invitations and key refreshes, the keys of sealed content).

An identity has an Ed25519 signing key and an X25519 key for receiving sealed envelopes, both
derived from 32 secret bytes (a master key's derivation) or random. An envelope is sealed to
one recipient: ephemeral X25519 agreement, HKDF-SHA256, ChaCha20-Poly1305 with the context
bound in as associated data, and signed by the sender over domain-separated bytes (each use
has its own domain, peerkit.domains).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from .errors import RemoteError


class EnvelopeRejected(RemoteError):
    """A signature or sealed envelope that fails its check (not for us, altered, forged)."""

    code = "envelope_rejected"


@dataclass(frozen=True)
class Identity:
    signing: Ed25519PrivateKey
    box: X25519PrivateKey

    @classmethod
    def generate(cls) -> Identity:
        return cls(Ed25519PrivateKey.generate(), X25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> Identity:
        """Deterministic from 32 secret bytes (e.g. ``master.derive("dcs/identity")``)."""
        sign = HKDF(hashes.SHA256(), 32, salt=b"peerkit/dcs", info=b"ed25519").derive(seed)
        box = HKDF(hashes.SHA256(), 32, salt=b"peerkit/dcs", info=b"x25519").derive(seed)
        return cls(
            Ed25519PrivateKey.from_private_bytes(sign), X25519PrivateKey.from_private_bytes(box)
        )

    @property
    def id(self) -> str:
        """A collaborator's id: the hex of their Ed25519 public key."""
        return self.signing.public_key().public_bytes_raw().hex()

    @property
    def box_public(self) -> bytes:
        return self.box.public_key().public_bytes_raw()

    def sign(self, data: bytes) -> bytes:
        return self.signing.sign(data)


@functools.lru_cache(maxsize=1024)
def _verify_key(member_id: str) -> VerifyKey:
    return VerifyKey(bytes.fromhex(member_id))


def verify(member_id: str, signature: bytes, data: bytes) -> None:
    """Ed25519 verification with libsodium (PyNaCl): ~2x cryptography's, and every update of
    every stream is verified."""
    try:
        _verify_key(member_id).verify(data, signature)
    except (BadSignatureError, ValueError, TypeError):
        raise EnvelopeRejected("signature does not verify") from None


def seal(
    sender: Identity, recipient_box: bytes, context: bytes, plaintext: bytes, *, domain: bytes
) -> bytes:
    """ephemeral_pub(32) || nonce(12) || ciphertext, then signed: || signature(64)."""
    eph = X25519PrivateKey.generate()
    shared = eph.exchange(X25519PublicKey.from_public_bytes(recipient_box))
    key = HKDF(hashes.SHA256(), 32, salt=recipient_box, info=domain + context).derive(shared)
    nonce = os.urandom(12)
    body = (
        eph.public_key().public_bytes_raw()
        + nonce
        + ChaCha20Poly1305(key).encrypt(nonce, plaintext, context)
    )
    return body + sender.sign(domain + context + body)


def open_sealed(
    recipient: Identity, sender_id: str, context: bytes, sealed: bytes, *, domain: bytes
) -> bytes:
    if len(sealed) < 32 + 12 + 16 + 64:
        raise EnvelopeRejected("envelope too short")
    body, signature = sealed[:-64], sealed[-64:]
    verify(sender_id, signature, domain + context + body)
    eph, nonce, ct = body[:32], body[32:44], body[44:]
    shared = recipient.box.exchange(X25519PublicKey.from_public_bytes(eph))
    key = HKDF(hashes.SHA256(), 32, salt=recipient.box_public, info=domain + context).derive(shared)
    try:
        return ChaCha20Poly1305(key).decrypt(nonce, ct, context)
    except InvalidTag:
        raise EnvelopeRejected("envelope is not for us, or was altered") from None
