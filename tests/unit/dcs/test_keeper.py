"""The keeper's rules (pure): bounded mailboxes, signed mail only, streams checked by chain."""

import msgspec
import pytest

from peerkit.dcs import keeper as keeper_module
from peerkit.dcs.actor import make_envelope
from peerkit.dcs.crypto import Identity, Rejected
from peerkit.dcs.doc import SharedDoc, catch_up_page
from peerkit.dcs.keeper import (
    MAIL_PER_MEMBER,
    MAIL_TTL,
    KeptDoc,
    Mailboxes,
    collect_bytes,
)

ALICE, BOB = Identity.from_seed(b"\x01" * 32), Identity.from_seed(b"\x02" * 32)


def envelope(doc: SharedDoc):
    return make_envelope("invite", doc, BOB.id, BOB.box_public)


def test_mail_is_kept_signed_bounded_and_handed_over_once():
    doc = SharedDoc.create(ALICE)
    mail = Mailboxes()
    first = envelope(doc)
    assert mail.keep(first, now=0) and not mail.keep(first, now=1)  # the same envelope once
    forged = msgspec.structs.replace(envelope(doc), sender=BOB.id)  # not signed by its sender
    with pytest.raises(Rejected):
        mail.keep(forged, now=2)
    for i in range(MAIL_PER_MEMBER + 10):
        mail.keep(envelope(doc), now=3 + i)
    waiting = mail.waiting(BOB.id)
    assert len(waiting) == MAIL_PER_MEMBER and first not in waiting  # the newest win

    at = 1000
    with pytest.raises(Rejected):  # somebody else's signature
        mail.collect(BOB.id, "keeper", at, ALICE.sign(collect_bytes(BOB.id, "keeper", at)), at)
    with pytest.raises(Rejected):  # signed for another keeper
        mail.collect(BOB.id, "keeper", at, BOB.sign(collect_bytes(BOB.id, "other", at)), at)
    got = mail.collect(BOB.id, "keeper", at, BOB.sign(collect_bytes(BOB.id, "keeper", at)), at)
    assert len(got) == MAIL_PER_MEMBER
    # kept until it expires: a hand-over lost on the way loses nothing
    assert mail.waiting(BOB.id) == got


def test_old_mail_expires():
    doc = SharedDoc.create(ALICE)
    mail = Mailboxes()
    mail.keep(envelope(doc), now=0)
    late = MAIL_TTL + 1
    sig = BOB.sign(collect_bytes(BOB.id, "k", int(late)))
    assert mail.collect(BOB.id, "k", int(late), sig, late) == []


def test_kept_streams_take_chained_runs_with_one_signature_and_refuse_forks(monkeypatch):
    source = SharedDoc.create(ALICE)
    entries = [source.insert(i, "k") for i in range(100)]
    calls = []
    real = keeper_module.verify
    monkeypatch.setattr(keeper_module, "verify", lambda *a: (calls.append(a), real(*a))[1])
    kept = KeptDoc(source.doc_id)
    assert len(kept.receive(list(reversed(entries[:60])))) == 60 and len(calls) == 1
    assert kept.receive(entries[:60]) == []  # duplicates: nothing new, nothing verified
    assert kept.receive(entries[70:]) == []  # a gap: waits
    # a fork: another entry 60 signed by Alice but not chained to what is kept
    other = SharedDoc.create(ALICE, doc_id=source.doc_id)
    fork = [other.insert(0, "f") for _ in range(61)][-1]
    assert kept.receive([fork]) == []
    # a stranger cannot append to Alice's stream
    tampered = msgspec.structs.replace(entries[60], ciphertext=b"x" * 40)
    assert kept.receive([tampered, *entries[61:]]) == []
    assert len(kept.receive(entries[60:])) == 40 and kept.have() == {ALICE.id: 100}
    snapshots, served, more = catch_up_page(kept, {ALICE.id: 90}, budget=1 << 20)
    assert served == entries[90:] and not more and snapshots == []


def test_kept_streams_are_bounded(monkeypatch):
    monkeypatch.setattr(keeper_module, "KEPT_BYTES_PER_DOC", 4096)
    source = SharedDoc.create(ALICE)
    entries = [source.insert(i, "q" * 100) for i in range(50)]
    kept = KeptDoc(source.doc_id)
    kept.receive(entries[:1])
    kept.receive(entries[1:])  # past the quota: refused as a whole run
    assert kept.have() == {ALICE.id: 1} and kept.size <= 4096


def test_a_keeper_keeps_an_authors_snapshot_and_the_tail_after_it():
    from peerkit.dcs.doc import SNAPSHOT_AFTER

    source = SharedDoc.create(ALICE)
    entries = [source.insert(0, "s") for _ in range(SNAPSHOT_AFTER)]
    kept = KeptDoc(source.doc_id)
    kept.receive(entries[:10])
    snapshot = source.compact()
    tail = [source.insert(0, "t") for _ in range(3)]
    assert kept.receive(tail) == []  # a gap: the keeper holds 10 entries
    assert kept.receive_snapshot(snapshot) and kept.have() == {ALICE.id: SNAPSHOT_AFTER}
    assert kept.receive(tail) == tail  # chained on from the snapshot's tip
    snapshots, served, _ = catch_up_page(kept, {}, budget=1 << 20)
    assert snapshots == [snapshot] and served == tail
    bob = SharedDoc(source.doc_id, BOB, ALICE.id)
    state = source.state()
    state["members"][BOB.id] = BOB.box_public.hex()
    bob.adopt(state)
    assert bob.receive_snapshot(snapshots[0]) and bob.receive_many(served) == tail
    assert bob.content() == source.content()
    forged = msgspec.structs.replace(snapshot, upto=snapshot.upto + 5)  # signature breaks
    assert not kept.receive_snapshot(forged)
