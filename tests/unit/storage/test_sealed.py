"""Sealed content: readers open it, nobody else does, and nothing altered opens."""

import io
import os

import pytest

from peerkit.blocks import make_block
from peerkit.envelopes import Identity
from peerkit.storage.sealed import (
    CHUNK,
    PLAIN_CHUNK,
    NotAReader,
    SealedError,
    open_content,
    read_envelope,
    reader_of,
    seal_content,
)
from peerkit.storage.unixfs import read_node

OWNER, READER, STRANGER = Identity.generate(), Identity.generate(), Identity.generate()


def sealed(data: bytes, readers=(READER,)):
    blocks = {}
    envelope = seal_content(
        OWNER,
        [reader_of(r) for r in readers],
        io.BytesIO(data),
        lambda b: blocks.__setitem__(b.cid.cid_bytes, b.data),
    )
    return envelope, blocks


def opened(envelope, blocks, who):
    env = read_envelope(envelope.data)
    return b"".join(open_content(lambda c: blocks[c.cid_bytes], env, who))


@pytest.mark.parametrize(
    "size", [0, 1, PLAIN_CHUNK - 1, PLAIN_CHUNK, PLAIN_CHUNK + 1, 3 * PLAIN_CHUNK + 5]
)
def test_readers_and_the_owner_open_it(size):
    data = os.urandom(size)
    envelope, blocks = sealed(data)
    assert opened(envelope, blocks, READER) == data
    assert opened(envelope, blocks, OWNER) == data
    env = read_envelope(envelope.data)
    assert env.size == size and set(env.readers) == {OWNER.id, READER.id}
    # every ciphertext leaf is one encrypted chunk: none holds the plaintext
    for data_block in blocks.values():
        assert len(data_block) <= CHUNK + 512
        if size > 100:
            assert data[:64] not in data_block


def test_a_stranger_cannot_open_it():
    envelope, blocks = sealed(b"secret plans")
    with pytest.raises(NotAReader):
        opened(envelope, blocks, STRANGER)


def test_altered_truncated_or_forged_content_does_not_open():
    data = os.urandom(3 * PLAIN_CHUNK)
    envelope, blocks = sealed(data)
    env = read_envelope(envelope.data)
    root = read_node(env.content, blocks[env.content.cid_bytes])
    leaves = [link.cid.cid_bytes for link in root.links]
    # a flipped bit in a leaf (as a peer could serve it, if hashes were not checked)
    altered = dict(blocks)
    altered[leaves[1]] = bytes([blocks[leaves[1]][0] ^ 1]) + blocks[leaves[1]][1:]
    with pytest.raises(SealedError, match="chunk 1"):
        opened(envelope, altered, READER)
    # a stranger's key entry copied into an envelope over other content does not open
    other, other_blocks = sealed(b"other content")
    forged = make_block({**_raw(other.data), "readers": _raw(envelope.data)["readers"]})
    with pytest.raises(SealedError, match="does not open"):
        opened(forged, other_blocks, READER)


def test_a_cut_short_stream_is_refused():
    from peerkit.storage.sealed import decrypt_chunks, encrypt_chunks

    key = os.urandom(32)
    chunks = list(encrypt_chunks(key, io.BytesIO(os.urandom(2 * PLAIN_CHUNK + 10)), [0]))
    assert len(chunks) == 3
    with pytest.raises(SealedError):
        b"".join(decrypt_chunks(key, chunks[:2]))  # the last chunk dropped
    with pytest.raises(SealedError):
        b"".join(decrypt_chunks(key, [chunks[1], chunks[0], chunks[2]]))  # reordered


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: {**e, "version": 2},
        lambda e: {**e, "kind": "movie"},
        lambda e: {**e, "size": -1},
        lambda e: {**e, "readers": {"x": {"box": b"short", "key": b""}}},
        lambda e: {**e, "readers": []},
    ],
)
def test_malformed_envelopes_are_refused(mutate):
    envelope, _ = sealed(b"x")
    with pytest.raises(SealedError):
        read_envelope(make_block(mutate(_raw(envelope.data))).data)


def _raw(data):
    from peerkit.blocks import decode

    return decode(data)
