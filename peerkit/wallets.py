"""Wallets: the keys users already hold (an Ethereum account, an Ed25519 key) as signers.

Core, not naming's: naming derives a user's master key from a wallet signature, and auth
accepts a wallet as the root of a delegation chain.
"""

from __future__ import annotations

from typing import Protocol

import coincurve
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .errors import PeerkitError


class KeyError_(PeerkitError):
    code = "keys"


def keccak256(data: bytes) -> bytes:
    """Ethereum's hash (Keccak-256 as submitted, not NIST's SHA3-256: hashlib has only that).

    PyCryptodome's, imported on the first wallet signature: its first import parses C
    declarations with cffi's pycparser (0.1 s, ~1 MB resident) that a peer never meeting a
    wallet need not pay."""
    from Crypto.Hash import keccak

    return keccak.new(digest_bits=256, data=data).digest()


class Wallet(Protocol):
    def sign(self, message: bytes) -> bytes: ...

    @property
    def address(self) -> str: ...


class EthereumWallet:
    """A local secp256k1 wallet signing like MetaMask's ``personal_sign`` (EIP-191)."""

    def __init__(self, private_key: bytes) -> None:
        if len(private_key) != 32:
            raise KeyError_("an Ethereum private key is 32 bytes")
        self._key = coincurve.PrivateKey(private_key)

    @staticmethod
    def eip191_hash(message: bytes) -> bytes:
        prefix = b"\x19Ethereum Signed Message:\n" + str(len(message)).encode()
        return keccak256(prefix + message)

    def sign(self, message: bytes) -> bytes:
        """65 bytes r || s || v (v = 27 or 28), deterministic (RFC 6979)."""
        sig = self._key.sign_recoverable(self.eip191_hash(message), hasher=None)
        return sig[:64] + bytes([sig[64] + 27])

    @property
    def address(self) -> str:
        pub = self._key.public_key.format(compressed=False)[1:]
        raw = keccak256(pub).hex()[-40:]
        return "0x" + _checksum(raw)

    @staticmethod
    def recover(message: bytes, signature: bytes) -> str:
        """The address that made ``signature`` over ``message`` (EIP-191)."""
        if len(signature) != 65 or signature[64] not in (27, 28):
            raise KeyError_("an EIP-191 signature is 65 bytes ending in 27 or 28")
        sig = signature[:64] + bytes([signature[64] - 27])
        pub = coincurve.PublicKey.from_signature_and_message(
            sig, EthereumWallet.eip191_hash(message), hasher=None
        )
        raw = keccak256(pub.format(compressed=False)[1:]).hex()
        return "0x" + _checksum(raw[-40:])


class SignedMessageWallet:
    """A wallet that has already signed: a browser's EIP-1193 wallet (MetaMask...) signed the
    login message, and only the signature reaches the peer (no key leaves the user's machine).
    It "signs" that one message, once checked to recover to ``address``; any other message is
    refused."""

    def __init__(self, address: str, message: bytes, signature: bytes) -> None:
        if len(signature) == 65 and signature[64] in (0, 1):
            signature = signature[:64] + bytes([signature[64] + 27])  # some wallets give 0/1
        try:
            signer = EthereumWallet.recover(message, signature)
        except (KeyError_, ValueError) as exc:
            raise KeyError_(f"the wallet's signature does not verify: {exc}") from None
        if signer.lower() != address.lower():
            raise KeyError_(
                f"the signature was made by {signer}, not by {address}",
                hint="sign the login message with the account you log in as",
            )
        self._message = message
        self._signature = signature
        self._address = signer

    def sign(self, message: bytes) -> bytes:
        if message != self._message:
            raise KeyError_("this wallet holds a signature of another message")
        return self._signature

    @property
    def address(self) -> str:
        return self._address


def _checksum(hex_address: str) -> str:
    digest = keccak256(hex_address.encode()).hex()
    return "".join(c.upper() if int(digest[i], 16) >= 8 else c for i, c in enumerate(hex_address))


class Ed25519Wallet:
    def __init__(self, seed: bytes) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(seed)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    @property
    def address(self) -> str:
        return "ed25519:" + self._key.public_key().public_bytes_raw().hex()
