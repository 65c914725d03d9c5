"""Multiauth tokens: signed, content-addressed delegations, invocations and revocations.

A token on the wire is self-describing (see docs/auth.md)::

    varint(kind code)  ||  DAG-CBOR {"alg": "EdDSA" | "EIP191", "p": payload, "s": signature}

- kind codes are multicodec private-use values: 0x300d01 delegation, 0x300d02 invocation,
  0x300d03 revocation;
- the signature covers ``DOMAIN[kind] || DAG-CBOR(payload)``: a signature made for a name
  record (``ipns-signature:``), a DCS entry or another kind of token never verifies here;
- the token's id is the CIDv1 (dag-cbor, sha2-256) of the DAG-CBOR body, so tokens are blocks
  like any other: stored, pinned, fetched, and revoked by CID.

Times are integer seconds since the epoch. Parsing checks the shape only; signatures and the
chain rules are checked by :mod:`peerkit.auth.chain`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from cbrrr import CID

from .. import domains
from ..blocks import NotCanonical, cid_for, decode, encode, make_block
from ..errors import WireError
from ..wire import decode_uvarint, encode_uvarint
from .errors import TokenMalformed
from .principals import PrincipalError, Signer, check_did

DELEGATION = "delegation"
INVOCATION = "invocation"
REVOCATION = "revocation"
CODES = {DELEGATION: 0x300D01, INVOCATION: 0x300D02, REVOCATION: 0x300D03}
KINDS = {code: kind for kind, code in CODES.items()}
DOMAINS = {kind: domains.auth_token(kind) for kind in CODES}
MAX_TOKEN = 16 * 1024
MAX_PROOFS = 8


# --- capabilities ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Capability:
    """A resource (``with``) and an ability on it (``can``): ``name:k51...`` / ``name/republish``.

    ``*`` at the end of either is a wildcard: ``name:*`` covers every name, ``name/*`` every
    ability under ``name/``, ``*`` everything.
    """

    with_: str
    can: str

    def covers(self, other: Capability) -> bool:
        return _covers(self.with_, other.with_) and _covers(self.can, other.can)

    def __str__(self) -> str:
        return f"{self.can} on {self.with_}"


def _covers(granted: str, wanted: str) -> bool:
    if granted == wanted or granted == "*":
        return True
    return granted.endswith("*") and wanted.startswith(granted[:-1])


# --- payload shapes (checked with msgspec; CIDs travel as DAG-CBOR links) -------------------

Did = Annotated[str, msgspec.Meta(min_length=8, max_length=256)]
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
Seconds = Annotated[int, msgspec.Meta(ge=0, le=2**53)]
CidText = Annotated[str, msgspec.Meta(min_length=10, max_length=128)]


class _Cap(msgspec.Struct, forbid_unknown_fields=True):
    with_: Text = msgspec.field(name="with")
    can: Text


class DelegationPayload(msgspec.Struct, forbid_unknown_fields=True):
    iss: Did
    aud: Did
    sub: Did
    caps: Annotated[list[_Cap], msgspec.Meta(min_length=1, max_length=32)]
    nbf: Seconds
    exp: Seconds
    nonce: Annotated[bytes, msgspec.Meta(min_length=8, max_length=32)]
    prf: Annotated[list[CidText], msgspec.Meta(max_length=MAX_PROOFS)]


class InvocationPayload(msgspec.Struct, forbid_unknown_fields=True):
    iss: Did
    aud: Did
    sub: Did
    cmd: Text  # the message tag it invokes
    cap: _Cap
    args: Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]  # sha256 of the message
    iat: Seconds
    exp: Seconds
    nonce: Annotated[bytes, msgspec.Meta(min_length=8, max_length=32)]
    # exactly the leaf delegation (its own proofs lead up the chain): nothing silently ignored
    prf: Annotated[list[CidText], msgspec.Meta(min_length=1, max_length=1)]


class RevocationPayload(msgspec.Struct, forbid_unknown_fields=True):
    iss: Did
    revoke: CidText
    iat: Seconds


_SHAPES: dict[str, type[msgspec.Struct]] = {
    DELEGATION: DelegationPayload,
    INVOCATION: InvocationPayload,
    REVOCATION: RevocationPayload,
}
_LINK_FIELDS = {"prf", "revoke"}


@dataclass(frozen=True)
class Token:
    """A parsed token. ``body`` is the DAG-CBOR block; ``cid`` its content id (as text)."""

    kind: str
    payload: Any  # DelegationPayload | InvocationPayload | RevocationPayload
    alg: str
    sig: bytes
    body: bytes
    cid: str
    signed: bytes  # exactly what the signature covers

    def to_bytes(self) -> bytes:
        return encode_uvarint(CODES[self.kind]) + self.body

    @property
    def iss(self) -> str:
        return str(self.payload.iss)

    def caps(self) -> list[Capability]:
        p = self.payload
        if self.kind == DELEGATION:
            return [Capability(c.with_, c.can) for c in p.caps]
        if self.kind == INVOCATION:
            return [Capability(p.cap.with_, p.cap.can)]
        return []

    def describe(self) -> dict[str, Any]:
        """A plain view for people (``peerkit auth inspect``)."""
        out: dict[str, Any] = {"kind": self.kind, "cid": self.cid, "alg": self.alg}
        out.update(msgspec.to_builtins(self.payload))
        if "nonce" in out:
            out["nonce"] = self.payload.nonce.hex()
        if "args" in out:
            out["args"] = self.payload.args.hex()
        return out


# --- building -------------------------------------------------------------------------------


def _sign(kind: str, signer: Signer, payload: dict[str, Any]) -> Token:
    signed = DOMAINS[kind] + make_block(payload).data
    block = make_block({"alg": signer.alg, "p": payload, "s": signer.sign(signed)})
    return parse(encode_uvarint(CODES[kind]) + block.data)


def delegate(
    signer: Signer,
    *,
    audience: str,
    caps: list[Capability],
    subject: str | None = None,
    expires_in: int | None = None,
    expires_at: int | None = None,
    not_before: int | None = None,
    proofs: list[Token] = (),  # type: ignore[assignment]
    now: int | None = None,
) -> Token:
    """A delegation from ``signer`` to ``audience``. Without proofs the signer is the subject
    (a root delegation); with proofs the subject is theirs."""
    now = int(time.time()) if now is None else now
    if expires_at is None:
        if expires_in is None:
            raise ValueError("a delegation needs expires_in or expires_at")
        expires_at = now + expires_in
    if subject is None:
        subject = proofs[0].payload.sub if proofs else signer.did
    payload = {
        "iss": signer.did,
        "aud": check_did(audience),
        "sub": check_did(subject),
        "caps": [{"with": c.with_, "can": c.can} for c in caps],
        "nbf": not_before if not_before is not None else now,
        "exp": expires_at,
        "nonce": os.urandom(12),
        "prf": [CID.decode(p.cid) for p in proofs],
    }
    return _sign(DELEGATION, signer, payload)


def invoke(
    signer: Signer,
    *,
    audience: str,
    cmd: str,
    capability: Capability,
    args: bytes,
    proof: Token,
    ttl: int = 60,
    now: int | None = None,
) -> Token:
    """An invocation of ``cmd`` (a message tag) on ``audience``, proven by delegation ``proof``
    whose audience is ``signer``. ``args`` is the digest of the message (see guard.digest)."""
    now = int(time.time()) if now is None else now
    payload = {
        "iss": signer.did,
        "aud": check_did(audience),
        "sub": proof.payload.sub,
        "cmd": cmd,
        "cap": {"with": capability.with_, "can": capability.can},
        "args": args,
        "iat": now,
        "exp": now + ttl,
        "nonce": os.urandom(12),
        "prf": [CID.decode(proof.cid)],
    }
    return _sign(INVOCATION, signer, payload)


def revoke(signer: Signer, delegation: Token, *, now: int | None = None) -> Token:
    """A revocation of ``delegation``, valid only when ``signer`` issued it."""
    now = int(time.time()) if now is None else now
    payload = {"iss": signer.did, "revoke": CID.decode(delegation.cid), "iat": now}
    return _sign(REVOCATION, signer, payload)


# --- parsing --------------------------------------------------------------------------------


def parse(data: bytes, *, expect: str | None = None) -> Token:
    """A token from its bytes (shape only). TokenMalformed says what is wrong.

    Parsed tokens are cached by their bytes: the same delegations arrive with every request
    of a chain, and a token's bytes fully determine it.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TokenMalformed("a token is bytes")
    data = bytes(data)
    cached = _parsed.get(data)
    if cached is None:
        cached = _parse(data)
        # Bounded: at most 4,096 tokens of up to 2 KiB (a delegation is ~400 bytes), so tokens
        # sent by anyone cannot grow this beyond 8 MiB.
        if len(data) <= 2048:
            if len(_parsed) >= 4096:
                _parsed.pop(next(iter(_parsed)))  # the oldest entry
            _parsed[data] = cached
    if expect is not None and cached.kind != expect:
        raise TokenMalformed(f"expected a {expect}, got a {cached.kind}")
    return cached


_parsed: dict[bytes, Token] = {}


def _parse(data: bytes) -> Token:
    if len(data) > MAX_TOKEN:
        raise TokenMalformed(f"token of {len(data)} bytes exceeds {MAX_TOKEN}")
    try:
        head = decode_uvarint(data, 0)
    except WireError:  # a non-minimal or overlong varint
        head = None
    if head is None or head[0] not in KINDS:
        raise TokenMalformed("not a peerkit auth token (unknown multicodec prefix)")
    code, pos = head
    kind = KINDS[code]
    body = data[pos:]
    try:
        outer = decode(body)
    except NotCanonical as exc:
        raise TokenMalformed(f"{kind}: {exc}") from None
    if not isinstance(outer, dict) or set(outer) != {"alg", "p", "s"}:
        raise TokenMalformed(f"{kind}: the body must be a map of alg, p and s")
    alg, raw_payload, sig = outer["alg"], outer["p"], outer["s"]
    if alg not in ("EdDSA", "EIP191") or not isinstance(sig, bytes) or len(sig) > 128:
        raise TokenMalformed(f"{kind}: unknown algorithm or bad signature field")
    if not isinstance(raw_payload, dict):
        raise TokenMalformed(f"{kind}: the payload must be a map")
    try:
        plain = {k: _links_as_text(k, v) for k, v in raw_payload.items()}
        payload: Any = msgspec.convert(plain, _SHAPES[kind], strict=True)
    except (msgspec.ValidationError, TypeError) as exc:
        raise TokenMalformed(f"{kind}: {exc}") from None
    try:
        check_did(payload.iss)
        for attr in ("aud", "sub"):
            if hasattr(payload, attr):
                check_did(getattr(payload, attr))
    except PrincipalError as exc:
        raise TokenMalformed(f"{kind}: {exc}") from None
    # decode() refuses non-canonical DAG-CBOR, so the body is the one encoding of ``outer``
    signed = DOMAINS[kind] + encode(raw_payload)
    return Token(kind, payload, alg, sig, body, cid_for(body).encode(), signed)


def _links_as_text(key: str, value: Any) -> Any:
    """Proof and revocation targets must be DAG-CBOR links; the shape check sees their text."""
    if key not in _LINK_FIELDS:
        if isinstance(value, CID):
            raise TypeError(f"{key} may not be a link")
        return value
    if key == "revoke":
        if not isinstance(value, CID):
            raise TypeError("revoke must be a CID link")
        return value.encode()
    if not isinstance(value, list) or not all(isinstance(v, CID) for v in value):
        raise TypeError("prf must be a list of CID links")
    return [v.encode() for v in value]
