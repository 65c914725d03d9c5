"""Sealed content: a file or document only its readers can open.

    envelope (DAG-CBOR) = {"type": "peerkit/sealed", "version": 1, "kind": "file"|"document",
                           "content": CID of the ciphertext (a UnixFS file), "size": N,
                           "owner": owner id, "readers": {id: {"box": X25519 public,
                                                                "key": sealed content key}}}

The content is encrypted under a fresh random key with ChaCha20-Poly1305, chunk by chunk
(256 KiB - 16 of plaintext each, so every ciphertext chunk is exactly one 256 KiB UnixFS leaf;
the nonce is the chunk's index, and the associated data says whether it is the last, so chunks
cannot be reordered, dropped or cut short). The key is sealed to each reader with the envelope
construction of peerkit.envelopes (the one DCS invitations use), bound to the content's CID and
the reader's id, and signed by the owner. The owner is always a reader.

Removing a reader is resealing: the owner opens the content and encrypts it again under a new
key for the readers that remain. The old version stays readable by whoever could read it (it is
immutable, and they may have kept a copy anyway); the new one is not.

Who may read is visible in the envelope (reader ids and box keys); what they read is not.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from .. import domains
from ..blocks import CID, DAG_CBOR, Block, decode, make_block
from ..envelopes import EnvelopeRejected, Identity, open_sealed, seal
from ..errors import Refused
from .errors import StorageError
from .unixfs import CHUNK, ByteSource, Emit, GetData, import_file, read_chunk, read_range

SEALED_TYPE = "peerkit/sealed"
TAG = 16
PLAIN_CHUNK = CHUNK - TAG
#: readers one envelope may name (each costs ~200 bytes; the envelope stays one small block)
MAX_READERS = 1000


class SealedError(StorageError):
    """Sealed content that is malformed, or does not decrypt as it should."""

    code = "sealed"


class NotAReader(SealedError, Refused):
    """The identity is not among the content's readers."""

    code = "not_a_reader"


class Reader(NamedTuple):
    """Who may read: an identity's id and the public key its content keys are sealed to."""

    id: str
    box: bytes


def reader_of(identity: Identity) -> Reader:
    return Reader(identity.id, identity.box_public)


class Envelope(NamedTuple):
    kind: str
    content: CID
    size: int
    owner: str
    readers: dict[str, tuple[bytes, bytes]]  # id -> (box public key, sealed content key)


# --- the chunked cipher ---------------------------------------------------------------------


def _nonce(index: int) -> bytes:
    return index.to_bytes(12, "big")


def _aad(last: bool) -> bytes:
    return domains.SEALED_CHUNK + (b"\x01" if last else b"\x00")


def encrypt_chunks(key: bytes, src: ByteSource, counted: list[int]) -> Iterator[bytes]:
    """Ciphertext chunks of ``src``: all CHUNK bytes but the last, which is shorter (an empty
    plaintext still gives one, so the end is always marked). ``counted[0]`` is the plaintext
    size once the iterator is done."""
    aead = ChaCha20Poly1305(key)
    index = 0
    pending = read_chunk(src, PLAIN_CHUNK)
    while True:
        following = read_chunk(src, PLAIN_CHUNK) if len(pending) == PLAIN_CHUNK else b""
        last = not following
        if last and len(pending) == PLAIN_CHUNK:
            # a full final chunk would be CHUNK long, like the others: end with an empty one
            yield aead.encrypt(_nonce(index), pending, _aad(False))
            counted[0] += len(pending)
            index += 1
            pending = b""
        yield aead.encrypt(_nonce(index), pending, _aad(last))
        counted[0] += len(pending)
        if last:
            return
        index += 1
        pending = following


def decrypt_chunks(key: bytes, pieces: Iterable[bytes]) -> Iterator[bytes]:
    """The plaintext of the ciphertext stream ``pieces`` (any cut: re-chunked here)."""
    aead = ChaCha20Poly1305(key)
    index = 0
    buffer = b""
    for piece in pieces:
        buffer += piece
        while len(buffer) > CHUNK:
            chunk, buffer = buffer[:CHUNK], buffer[CHUNK:]
            yield _open(aead, index, chunk, last=False)
            index += 1
    # what is left: a last chunk (shorter than CHUNK), or a full one and nothing after it
    if len(buffer) == CHUNK:
        raise SealedError("sealed content ends without its final chunk (cut short?)")
    yield _open(aead, index, buffer, last=True)


def _open(aead: ChaCha20Poly1305, index: int, chunk: bytes, *, last: bool) -> bytes:
    try:
        return aead.decrypt(_nonce(index), chunk, _aad(last))
    except InvalidTag:
        raise SealedError(f"chunk {index} of sealed content does not decrypt (altered?)") from None


class IterReader(io.RawIOBase):
    """A file-like view of an iterator of byte strings (what import_file reads)."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces = pieces
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            piece = next(self._pieces, None)
            if piece is None:
                break
            self._buffer += piece
        if size < 0:
            size = len(self._buffer)
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out


# --- envelopes --------------------------------------------------------------------------------


def _key_context(content: CID, reader_id: str) -> bytes:
    return content.cid_bytes + b"/" + reader_id.encode()


def seal_content(
    owner: Identity, readers: Iterable[Reader], src: ByteSource, emit: Emit, kind: str = "file"
) -> Block:
    """Encrypt ``src`` for ``readers`` (and the owner); the ciphertext's blocks and then the
    envelope go to ``emit``. Returns the envelope, whose CID names the sealed content."""
    everyone = {r.id: r for r in readers}
    everyone[owner.id] = reader_of(owner)
    if len(everyone) > MAX_READERS:
        raise SealedError(f"sealed content may have at most {MAX_READERS} readers")
    key = os.urandom(32)
    counted = [0]
    entry = import_file(IterReader(encrypt_chunks(key, src, counted)), emit)
    sealed_keys = {
        r.id: {
            "box": r.box,
            "key": seal(
                owner, r.box, _key_context(entry.cid, r.id), key, domain=domains.SEALED_KEY
            ),
        }
        for r in everyone.values()
    }
    envelope = make_block(
        {
            "type": SEALED_TYPE,
            "version": 1,
            "kind": kind,
            "content": entry.cid,
            "size": counted[0],
            "owner": owner.id,
            "readers": sealed_keys,
        }
    )
    emit(envelope)
    return envelope


def is_sealed(cid: CID, data: bytes) -> bool:
    if cid.cid_bytes[1] != DAG_CBOR:
        return False
    obj = decode(data)
    return isinstance(obj, dict) and obj.get("type") == SEALED_TYPE


def read_envelope(data: bytes) -> Envelope:
    """The envelope in a block, checked field by field (it may come from anyone)."""
    obj: Any = decode(data)
    if not isinstance(obj, dict) or obj.get("type") != SEALED_TYPE:
        raise SealedError("not sealed content (no peerkit/sealed envelope)")
    if obj.get("version") != 1:
        raise SealedError(f"sealed content of version {obj.get('version')!r} is not readable here")
    kind, content, size, owner, readers = (
        obj.get("kind"),
        obj.get("content"),
        obj.get("size"),
        obj.get("owner"),
        obj.get("readers"),
    )
    if (
        kind not in ("file", "document")
        or not isinstance(content, CID)
        or not isinstance(size, int)
        or size < 0
        or not isinstance(owner, str)
        or not isinstance(readers, dict)
        or len(readers) > MAX_READERS
    ):
        raise SealedError("sealed content envelope is malformed")
    table: dict[str, tuple[bytes, bytes]] = {}
    for rid, entry in readers.items():
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("box"), bytes)
            and len(entry["box"]) == 32
            and isinstance(entry.get("key"), bytes)
        ):
            raise SealedError("sealed content envelope has a malformed reader entry")
        table[rid] = (entry["box"], entry["key"])
    return Envelope(kind, content, size, owner, table)


def content_key(envelope: Envelope, identity: Identity) -> bytes:
    entry = envelope.readers.get(identity.id)
    if entry is None:
        raise NotAReader(
            f"{identity.id[:12]} is not a reader of this content",
            hint="ask its owner to add you (they reseal it for you)",
        )
    try:
        key = open_sealed(
            identity,
            envelope.owner,
            _key_context(envelope.content, identity.id),
            entry[1],
            domain=domains.SEALED_KEY,
        )
    except EnvelopeRejected as exc:
        raise SealedError(f"the content key sealed to you does not open: {exc}") from None
    if len(key) != 32:
        raise SealedError("the content key sealed to you is malformed")
    return key


def open_content(get_data: GetData, envelope: Envelope, identity: Identity) -> Iterator[bytes]:
    """The plaintext, a chunk at a time (SealedError if anything was altered)."""
    key = content_key(envelope, identity)
    return decrypt_chunks(key, read_range(get_data, envelope.content))


def readers_of(envelope: Envelope) -> list[Reader]:
    return [Reader(rid, box) for rid, (box, _key) in envelope.readers.items()]
