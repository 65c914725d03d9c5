"""RSA identity keys for py-libp2p, on ``cryptography``: loaded as ``libp2p.crypto.rsa``.

py-libp2p's own ``libp2p.crypto.rsa`` is written on PyCryptodome, whose first import loads cffi
and parses C declarations with pycparser: 0.1 s of every peer's start and ~1 MB it keeps
resident, for keys a peerkit peer never has (its identity is Ed25519) and meets only when a
remote peer has an RSA identity (older go-ipfs and js-ipfs nodes). ``cryptography`` is loaded
anyway (Noise, Ed25519, X25519, ChaCha20-Poly1305), so :func:`_lean_libp2p.import_libp2p` has
py-libp2p import this module in its place: the same classes and functions, the same bytes.

The formats are libp2p's (peer-ids spec): a public key is DER SubjectPublicKeyInfo, a private
key DER PKCS#1; signatures are RSASSA-PKCS1-v1_5 with SHA-256. A public key keeps the bytes it
was read from: a peer id is the hash of them, so they are never re-encoded. Keys above 4096 bits
are refused, as py-libp2p does (a remote's 16k-bit key would cost seconds per verify).
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from libp2p.crypto.exceptions import CryptographyError
from libp2p.crypto.keys import KeyPair, KeyType, PrivateKey, PublicKey

MAX_RSA_KEY_SIZE = 4096


def validate_rsa_key_length(key_length: int) -> None:
    if key_length <= 0:
        raise CryptographyError("RSA key size must be positive")
    if key_length > MAX_RSA_KEY_SIZE:
        raise CryptographyError(
            f"RSA key size {key_length} exceeds maximum allowed size {MAX_RSA_KEY_SIZE}"
        )


def validate_rsa_key_size(key: rsa.RSAPublicKey | rsa.RSAPrivateKey) -> None:
    validate_rsa_key_length(key.key_size)


class RSAPublicKey(PublicKey):
    def __init__(self, impl: rsa.RSAPublicKey, encoded: bytes | None = None) -> None:
        validate_rsa_key_size(impl)
        self.impl = impl
        self._encoded = encoded

    def to_bytes(self) -> bytes:
        if self._encoded is None:
            self._encoded = self.impl.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        return self._encoded

    @classmethod
    def from_bytes(cls, key_bytes: bytes) -> RSAPublicKey:
        # load_der_public_key reads SubjectPublicKeyInfo and PKCS#1 RSAPublicKey alike, as
        # py-libp2p accepts both
        key = serialization.load_der_public_key(key_bytes)
        if not isinstance(key, rsa.RSAPublicKey):
            raise ValueError("not an RSA public key")
        return cls(key, bytes(key_bytes))

    def get_type(self) -> KeyType:
        return KeyType.RSA

    def verify(self, data: bytes, signature: bytes) -> bool:
        try:
            self.impl.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError, TypeError):
            return False
        return True


class RSAPrivateKey(PrivateKey):
    def __init__(self, impl: rsa.RSAPrivateKey) -> None:
        validate_rsa_key_size(impl)
        self.impl = impl

    @classmethod
    def new(cls, bits: int = 2048, e: int = 65537) -> RSAPrivateKey:
        validate_rsa_key_length(bits)
        return cls(rsa.generate_private_key(public_exponent=e, key_size=bits))

    def to_bytes(self) -> bytes:
        return self.impl.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.TraditionalOpenSSL,  # PKCS#1, as libp2p specifies
            serialization.NoEncryption(),
        )

    @classmethod
    def from_bytes(cls, key_bytes: bytes) -> RSAPrivateKey:
        try:
            key = serialization.load_der_private_key(key_bytes, password=None)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"Invalid RSA private key bytes: {exc}") from exc
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("Key bytes do not contain an RSA private key")
        return cls(key)

    def get_type(self) -> KeyType:
        return KeyType.RSA

    def sign(self, data: bytes) -> bytes:
        return self.impl.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def get_public_key(self) -> PublicKey:
        return RSAPublicKey(self.impl.public_key())


def create_new_key_pair(bits: int = 2048, e: int = 65537) -> KeyPair:
    private_key = RSAPrivateKey.new(bits, e)
    return KeyPair(private_key, private_key.get_public_key())
