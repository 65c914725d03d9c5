"""The byte layouts in docs/dcs.md, rebuilt from the page with plain `cryptography` calls: an
implementation written from the docs alone reads what peerkit writes."""

from __future__ import annotations

import hashlib
import json

import msgspec
import pycrdt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from peerkit.dcs.actor import make_envelope
from peerkit.dcs.crypto import Identity
from peerkit.dcs.doc import SharedDoc
from peerkit.dcs.messages import inbox_topic


def test_an_entry_as_documented():
    alice = Identity.generate()
    doc = SharedDoc.create(alice)
    entry = doc.insert(0, "hello")
    assert entry is not None
    fields = msgspec.msgpack.decode(msgspec.msgpack.encode(entry))
    doc_id, author, epoch, seq, nonce, ciphertext, signature, prev = fields  # 8 elements
    assert author == alice.id and len(nonce) == 12 and len(signature) == 64
    assert seq == 0 and prev == b""  # an author's first entry has no predecessor
    aad = f"{doc_id}\0{author}\0{epoch}\0{seq}".encode()
    signed = b"peerkit/dcs/update/v1\0" + aad + nonce + ciphertext + prev
    Ed25519PublicKey.from_public_bytes(bytes.fromhex(author)).verify(signature, signed)
    second = msgspec.msgpack.decode(msgspec.msgpack.encode(doc.insert(5, "!")))
    assert second[7] == hashlib.sha256(signed + signature).digest()  # the chain
    update = ChaCha20Poly1305(doc.epoch_keys[epoch]).decrypt(nonce, ciphertext, aad)
    replica = pycrdt.Doc()
    replica.apply_update(update)  # a plain Yjs v1 update
    assert str(replica.get("text", type=pycrdt.Text)) == "hello"


def test_a_sealed_envelope_as_documented():
    alice, bob = Identity.generate(), Identity.generate()
    doc = SharedDoc.create(alice)
    env = make_envelope("invite", doc, bob.id, bob.box_public)
    assert inbox_topic(bob.id) == "peerkit.dcs.inbox." + bob.id[:32]
    context = f"{env.kind}\0{env.doc}\0{env.to}".encode()
    body, signature = env.sealed[:-64], env.sealed[-64:]
    Ed25519PublicKey.from_public_bytes(bytes.fromhex(env.sender)).verify(
        signature, b"peerkit/dcs/envelope/v1\0" + context + body
    )
    eph, nonce, ct = body[:32], body[32:44], body[44:]
    shared = bob.box.exchange(X25519PublicKey.from_public_bytes(eph))
    key = HKDF(
        hashes.SHA256(),
        32,
        salt=bob.box_public,
        info=b"peerkit/dcs/envelope/v1\0" + context,
    ).derive(shared)
    state = json.loads(ChaCha20Poly1305(key).decrypt(nonce, ct, context))
    assert state["doc"] == doc.doc_id and state["owner"] == alice.id
    assert set(state) == {"doc", "secret", "owner", "epoch", "keys", "members", "cut"}


def test_a_snapshot_as_documented():
    from peerkit.dcs.doc import SNAPSHOT_AFTER

    alice = Identity.generate()
    doc = SharedDoc.create(alice)
    last = None
    for i in range(SNAPSHOT_AFTER):
        last = doc.insert(i, "z")
    assert last is not None
    snapshot = doc.compact()
    assert snapshot is not None
    fields = msgspec.msgpack.decode(msgspec.msgpack.encode(snapshot))
    doc_id, author, epoch, upto, nonce, ciphertext, tip, signature = fields  # 8 elements
    assert upto == SNAPSHOT_AFTER  # entries 0..upto-1
    assert tip == hashlib.sha256(last.signed_bytes() + last.signature).digest()
    aad = f"snapshot\0{doc_id}\0{author}\0{epoch}\0{upto}".encode()
    signed = b"peerkit/dcs/snapshot/v1\0" + aad + nonce + ciphertext + tip
    Ed25519PublicKey.from_public_bytes(bytes.fromhex(author)).verify(signature, signed)
    update = ChaCha20Poly1305(doc.epoch_keys[epoch]).decrypt(nonce, ciphertext, aad)
    replica = pycrdt.Doc()
    replica.apply_update(update)
    assert str(replica.get("text", type=pycrdt.Text)) == "z" * SNAPSHOT_AFTER
