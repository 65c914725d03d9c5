import random

import msgspec
import pytest
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from hypothesis import given, settings
from hypothesis import strategies as st

from peerkit.dcs.crypto import Identity, Rejected, open_sealed, seal
from peerkit.dcs.doc import Entry, SharedDoc

IDS = [Identity.from_seed(bytes([i]) * 32) for i in range(5)]


def _flip_last(data: bytes) -> bytes:
    """``data`` with its last byte changed (replacing it with a fixed byte left it as it was
    once in 256 runs, and the forgery went through unforged)."""
    return data[:-1] + bytes([data[-1] ^ 0x01])


def team(n=3):
    owner = SharedDoc.create(IDS[0], doc_id="doc1")
    for ident in IDS[1:n]:
        owner.add_member(ident.id, ident.box_public)
    docs = [owner]
    for ident in IDS[1:n]:
        d = SharedDoc("doc1", ident, IDS[0].id)
        d.adopt(owner.state())
        docs.append(d)
    return docs


def test_concurrent_edits_converge_with_unicode_positions():
    a, b, c = team()
    e1 = a.insert(0, "héllo wörld")
    for d in (b, c):
        d.receive(e1)
    e2 = b.insert(5, "😀")  # code-point index, after "héllo"
    e3 = c.delete(0, 1)
    for d in (a, b, c):
        for e in (e2, e3):
            d.receive(e)
    assert a.content() == b.content() == c.content() == "éllo😀 wörld"


def test_checks_reject_without_changing_the_document():
    a, b, _ = team()
    stranger = SharedDoc.create(IDS[4], doc_id="doc1")
    good = a.insert(0, "x")
    forged = msgspec.structs.replace(good, ciphertext=_flip_last(good.ciphertext))
    with pytest.raises(Rejected, match="signature"):
        b.receive(forged)
    with pytest.raises(Rejected, match="not a member"):
        b.receive(stranger.insert(0, "spam"))
    b.receive(good)
    b.receive(good)  # a duplicate is ignored, not an error
    replay = msgspec.structs.replace(a.insert(1, "y"), seq=0)
    with pytest.raises(Rejected):
        b.receive(replay)  # same seq as an accepted entry: the signature no longer matches
    assert b.content() == "x"


def test_revoked_member_reads_nothing_new_and_its_writes_are_ignored():
    a, b, c = team()
    b.receive(a.insert(0, "shared "))
    c.receive(a.log[a.me.id][0])
    key = a.revoke(b.me.id)
    c.adopt(a.state())  # the key refresh reaches the remaining members only
    assert key not in b.epoch_keys.values()
    later = [a.insert(len(a.content()), f"{i} ") for i in range(100)]
    for e in later:
        c.receive(e)
        with pytest.raises(Rejected, match="no key"):
            b.receive(e)
    late_write = b.insert(0, "bob was here ")
    with pytest.raises(Rejected, match="revoked"):
        c.receive(late_write)
    assert "bob" not in c.content() and c.content().startswith("shared 0 1 2")
    assert b.content() == "bob was here shared "  # Bob keeps what he had (the snapshot caveat)


def test_sealed_envelopes():
    sealed = seal(IDS[0], IDS[1].box_public, b"invite:doc1", b"secret")
    assert open_sealed(IDS[1], IDS[0].id, b"invite:doc1", sealed) == b"secret"
    with pytest.raises(Rejected):
        open_sealed(IDS[2], IDS[0].id, b"invite:doc1", sealed)  # someone else's
    with pytest.raises(Rejected):
        open_sealed(IDS[1], IDS[2].id, b"invite:doc1", sealed)  # claims another sender
    with pytest.raises(Rejected):
        open_sealed(IDS[1], IDS[0].id, b"invite:doc2", sealed)  # another context


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**32))
def test_five_replicas_converge_under_reordering_duplication_drops_and_restarts(seed):
    rng = random.Random(seed)
    replicas = team(5)
    network: list[tuple[int, Entry]] = []  # (destination, entry)
    for _ in range(rng.randint(3, 12)):
        i = rng.randrange(5)
        d = replicas[i]
        text = d.content()
        if text and rng.random() < 0.3:
            start = rng.randrange(len(text))
            entry = d.delete(start, rng.randint(1, len(text) - start))
        else:
            entry = d.insert(rng.randint(0, len(text)), rng.choice(["a", "é", "😀", "xyz"]))
        if entry is not None:
            network += [(j, entry) for j in range(5) if j != i]
        # deliver a random part of the network, reordered, with duplicates and drops
        rng.shuffle(network)
        keep = []
        for dest, e in network:
            roll = rng.random()
            if roll < 0.2:
                keep.append((dest, e))  # dropped for now: retried later
            else:
                replicas[dest].receive(e)
                if roll > 0.9:
                    keep.append((dest, e))  # duplicated
        network = keep
        if rng.random() < 0.1:  # a restart: rebuild a replica from the entries it stored
            j = rng.randrange(1, 5)
            old = replicas[j]
            fresh = SharedDoc("doc1", old.me, IDS[0].id)
            fresh.adopt(replicas[0].state())
            stored = [e for es in old.log.values() for e in es]
            rng.shuffle(stored)
            for e in stored:
                fresh.receive(e)
            fresh.next_seq = old.next_seq
            replicas[j] = fresh
    for dest, e in network:  # retries: everything eventually arrives
        replicas[dest].receive(e)
    everything = [e for r in replicas for es in r.log.values() for e in es]
    for r in replicas:
        for e in everything:
            r.receive(e)
    assert len({r.content() for r in replicas}) == 1


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.booleans())
def test_garbage_updates_from_a_member_never_crash_and_never_change_the_doc(junk, mutate):
    a, b, _ = team()
    b.receive(a.insert(0, "base"))
    if mutate:  # a real update with bytes flipped
        before = a.crdt.get_state()
        a.text.insert(0, "q")
        update = bytearray(a.crdt.get_update(before))
        for k in range(0, len(update), 3):
            update[k] ^= junk[k % len(junk)] if junk else 0x55
        payload = bytes(update)
    else:
        payload = junk
    entry = a._seal(payload)  # correctly encrypted and signed by a member
    snapshot = b.crdt.get_update()
    try:
        b.receive(entry)
    except Rejected:
        assert b.crdt.get_update() == snapshot
    assert isinstance(b.content(), str)


def test_epoch_key_is_bound_into_the_aad():
    a, b, _ = team()
    e = a.insert(0, "z")
    wrong_epoch = msgspec.structs.replace(e, epoch=1)
    b.epoch_keys[1] = ChaCha20Poly1305.generate_key()
    with pytest.raises(Rejected):
        b.receive(wrong_epoch)


def test_every_member_derives_every_members_stream_name():
    from peerkit.naming.records import name_for

    docs = team(3)
    graphs = [{m: name_for(d.stream_key(m)) for m in sorted(d.members)} for d in docs]
    assert graphs[0] == graphs[1] == graphs[2]
    assert len(set(graphs[0].values())) == 3  # one name per collaborator's stream
    outsider = SharedDoc.create(IDS[4], doc_id="doc1")  # same id, another secret
    assert name_for(outsider.stream_key(IDS[0].id)) not in graphs[0].values()


def test_out_of_range_edits_are_typed_errors():
    from peerkit.dcs.crypto import DcsError

    (a,) = team(1)
    a.insert(0, "abc")
    with pytest.raises(DcsError, match="outside the text"):
        a.insert(4, "x")
    with pytest.raises(DcsError, match="runs outside the text"):
        a.delete(1, 5)
    assert a.content() == "abc"


def test_a_chained_run_costs_one_signature_and_a_broken_chain_is_refused(monkeypatch):
    from peerkit.dcs import doc as doc_module
    from peerkit.dcs.crypto import Identity
    from peerkit.dcs.doc import SharedDoc

    alice, bob = Identity.from_seed(b"\x01" * 32), Identity.from_seed(b"\x02" * 32)
    source = SharedDoc.create(alice)
    entries = [source.insert(i, "x") for i in range(200)]
    calls = []
    real = doc_module.verify
    monkeypatch.setattr(doc_module, "verify", lambda *a: (calls.append(a), real(*a))[1])

    def reader():
        copy = SharedDoc(source.doc_id, bob, alice.id)
        copy.adopt(source.state())
        return copy

    fresh = reader()
    assert len(fresh.receive_many(list(reversed(entries)))) == 200  # any order
    assert fresh.content() == "x" * 200 and len(calls) == 1  # one signature for 200 entries

    # a forged entry in the middle: the chain breaks there; the prefix is applied (each
    # entry verified on its own once the run failed), the forgery and what follows are not
    import msgspec

    forged = msgspec.structs.replace(entries[100], ciphertext=_flip_last(entries[100].ciphertext))
    tampered = [*entries[:100], forged, *entries[101:]]
    victim = reader()
    applied = victim.receive_many(tampered)
    assert len(applied) == 100 and victim.content() == "x" * 100
    assert victim.rejected >= 1


def test_a_relay_cannot_swap_a_signature_inside_a_chained_run():
    """The chain covers signatures: a run whose middle entry carries another signature is not
    taken as a run; entry by entry, the forged one is refused and the stream waits there (the
    author's own copy is still accepted later: nothing was poisoned)."""
    import msgspec

    from peerkit.dcs.crypto import Identity
    from peerkit.dcs.doc import SharedDoc

    alice, bob = Identity.from_seed(b"\x01" * 32), Identity.from_seed(b"\x02" * 32)
    source = SharedDoc.create(alice)
    entries = [source.insert(i, "y") for i in range(50)]
    copy = SharedDoc(source.doc_id, bob, alice.id)
    copy.adopt(source.state())
    swapped = msgspec.structs.replace(entries[20], signature=bytes(64))
    applied = copy.receive_many([*entries[:20], swapped, *entries[21:]])
    assert len(applied) == 20 and copy.rejected >= 1
    assert len(copy.receive_many(entries[20:])) == 30  # the real entry 20 still fits
    assert copy.content() == source.content()


def test_an_oversized_chain_link_is_a_typed_error():
    import msgspec
    import pytest as _pytest

    from peerkit.dcs.doc import Entry

    raw = msgspec.msgpack.encode(["d", "a", 0, 1, b"n" * 12, b"c", b"s" * 64, b"p" * 33])
    with _pytest.raises(msgspec.ValidationError):
        msgspec.msgpack.decode(raw, type=Entry)


def test_a_run_is_applied_in_merged_groups_and_a_bad_update_stops_it_exactly():
    """Runs are applied as merged updates of up to MERGE_AT_MOST entries; an author's own
    signed, chained entry carrying a broken Yjs update fails its group, and the entries are
    then taken one by one: everything before it is applied, it is refused, the rest waits."""
    from peerkit.dcs.doc import MERGE_AT_MOST

    alice, bob = IDS[1], IDS[2]
    source = SharedDoc.create(alice)
    bad_at = MERGE_AT_MOST + 10
    entries = [source.insert(i, "z") for i in range(bad_at)]
    entries.append(source._seal(b"\x01\x02 not a yjs update"))
    entries += [source.insert(0, "w") for _ in range(30)]
    copy = SharedDoc(source.doc_id, bob, alice.id)
    copy.adopt(source.state())
    applied = copy.receive_many(entries)
    assert len(applied) == bad_at and copy.content() == "z" * bad_at
    assert copy.rejected == 1
    assert sum(len(q) for q in copy.pending.values()) == 30  # waiting behind the bad entry

    # the same run without the bad entry is merged group by group to the author's text
    clean = SharedDoc.create(alice)
    entries = [clean.insert(i % 7, chr(97 + i % 26)) for i in range(3 * MERGE_AT_MOST + 5)]
    reader = SharedDoc(clean.doc_id, bob, alice.id)
    reader.adopt(clean.state())
    assert len(reader.receive_many(entries)) == len(entries)
    assert reader.content() == clean.content() and reader.applied[alice.id] == len(entries)


def _reader(source, ident):
    copy = SharedDoc(source.doc_id, ident, source.owner)
    state = source.state()
    state["members"][ident.id] = ident.box_public.hex()
    copy.adopt(state)
    return copy


def test_an_author_compacts_their_stream_and_a_late_reader_loads_snapshot_and_tail():
    from peerkit.dcs.doc import SNAPSHOT_AFTER

    alice, bob = IDS[1], IDS[2]
    source = SharedDoc.create(alice)
    entries = [source.insert(i, "s") for i in range(SNAPSHOT_AFTER + 200)]
    follower = _reader(source, bob)  # has every entry
    assert len(follower.receive_many(entries)) == len(entries)

    small = SharedDoc.create(alice)
    small.insert(0, "few")
    assert small.compact() is None  # not due yet
    snapshot = source.compact()
    assert snapshot is not None and snapshot.upto == len(entries)
    assert source.log[alice.id] == [] and source.compact() is None  # nothing left to compact
    tail = [source.insert(0, "t") for _ in range(5)]  # chained on from the snapshot's tip
    assert tail[0].prev == entries[-1].link()

    late = _reader(source, bob)
    assert late.receive_snapshot(snapshot)
    assert late.receive_many(tail) == tail and late.rejected == 0
    assert late.content() == source.content() and late.applied[alice.id] == len(entries) + 5

    # a member holding every entry takes the snapshot to serve others, text unchanged
    before = follower.content()
    assert follower.receive_snapshot(snapshot) and follower.content() == before
    served, rest = follower.stream_after(alice.id, 3)
    assert served == snapshot and rest == []
    assert follower.stream_after(alice.id, len(entries)) == (None, [])
    assert not follower.receive_snapshot(snapshot)  # the same again: nothing new


def test_a_snapshot_cannot_be_forged_altered_or_forked():
    import msgspec

    from peerkit.dcs.doc import SNAPSHOT_AFTER

    alice, bob = IDS[1], IDS[2]
    source = SharedDoc.create(alice)
    entries = [source.insert(i, "a") for i in range(SNAPSHOT_AFTER)]
    snapshot = source.compact()
    assert snapshot is not None
    reader = _reader(source, bob)
    # Bob cannot pass off a snapshot of Alice's stream: only Alice's key signs it
    bob_signed = msgspec.structs.replace(snapshot, signature=bob.sign(snapshot.signed_bytes()))
    with pytest.raises(Rejected):
        reader.receive_snapshot(bob_signed)
    altered = msgspec.structs.replace(snapshot, ciphertext=_flip_last(snapshot.ciphertext))
    with pytest.raises(Rejected):
        reader.receive_snapshot(altered)
    # a reader holding Alice's real entries refuses a snapshot that does not end at them
    other = SharedDoc.create(alice, doc_id=source.doc_id)
    for i in range(SNAPSHOT_AFTER):
        other.insert(i, "b")
    fork = other.compact()
    holder = _reader(source, bob)
    holder.receive_many(entries)
    with pytest.raises(Rejected, match="fork"):
        holder.receive_snapshot(fork)
    assert reader.content() == "" and holder.content() == source.content()


def test_a_revoked_members_snapshot_past_the_cut_is_ignored():
    from peerkit.dcs.doc import SNAPSHOT_AFTER

    owner, bob = team(2)
    entries = [bob.insert(0, "x") for _ in range(SNAPSHOT_AFTER + 5)]
    owner.receive_many(entries[:10])
    owner.revoke(bob.me.id)  # cut at what the owner had: 10 entries
    snapshot = bob.compact()
    with pytest.raises(Rejected, match="revoked"):
        owner.receive_snapshot(snapshot)
    assert owner.content() == "x" * 10


def test_a_reader_that_joined_from_a_snapshot_saves_and_restores_it():
    """A late joiner holds an author's snapshot and the entries after it: its log of that
    stream starts past 0 (the head says where), and a restart reads snapshot + tail."""
    import os

    from peerkit.blocks import decode
    from peerkit.dcs import saved
    from peerkit.dcs.doc import SNAPSHOT_AFTER

    alice, bob = IDS[1], IDS[2]
    source = SharedDoc.create(alice)
    for i in range(SNAPSHOT_AFTER + 3):
        source.insert(i, "j")
    snapshot = source.compact()
    tail = [source.insert(0, "k") for _ in range(4)]
    late = _reader(source, bob)
    late.receive_snapshot(snapshot)
    late.receive_many(tail)
    store: dict = {}
    key = os.urandom(32)
    blocks, after = saved.save(late, saved.SavedStreams(), key)
    store.update({b.cid: b.data for b in blocks})
    more = [source.insert(0, "m") for _ in range(2)]
    late.receive_many(more)
    blocks, after = saved.save(late, after, key)  # appends to the log that starts at upto
    store.update({b.cid: b.data for b in blocks})
    restored, streams = saved.restore(decode(blocks[-1].data), bob, key, store.__getitem__)
    assert restored.content() == source.content() and restored.rejected == 0
    assert restored.applied[alice.id] == snapshot.upto + 6
    assert saved.log_first(streams.logs[alice.id]) == snapshot.upto
    # the author's own restart: snapshot + the log read from where the snapshot ends
    blocks, _ = saved.save(source, saved.SavedStreams(), key)
    store.update({b.cid: b.data for b in blocks})
    own, _ = saved.restore(decode(blocks[-1].data), alice, key, store.__getitem__)
    assert own.content() == source.content() and own.next_seq == source.next_seq
    assert own.snapshots[alice.id] == snapshot


def test_a_signed_snapshot_carrying_a_broken_update_is_refused_and_changes_nothing():
    import msgspec

    from peerkit.dcs.doc import Snapshot

    alice, bob = IDS[1], IDS[2]
    source = SharedDoc.create(alice)
    entries = [source.insert(0, "q") for _ in range(5)]
    reader = _reader(source, bob)
    reader.receive_many(entries)
    # Alice herself signs a snapshot whose plaintext is not a Yjs update
    draft = Snapshot(source.doc_id, alice.id, 0, 9, b"n" * 12, b"", b"t" * 32, b"")
    ct = source._cipher(0).encrypt(draft.nonce, b"\x05\xff not yjs", draft.aad())
    body = msgspec.structs.replace(draft, ciphertext=ct)
    bad = msgspec.structs.replace(body, signature=alice.sign(body.signed_bytes()))
    fresh = _reader(source, bob)
    with pytest.raises(Rejected):
        fresh.receive_snapshot(bad)
    assert fresh.content() == "" and fresh.applied.get(alice.id, 0) == 0 and not fresh.snapshots
    # altered after signing (upto changed): its signature no longer verifies
    with pytest.raises(Rejected):
        reader.receive_snapshot(msgspec.structs.replace(bad, upto=5))
    assert reader.content() == "qqqqq"


def test_an_invitations_state_is_read_field_by_field():
    import json

    from peerkit.dcs.doc import read_invitation_state

    doc = SharedDoc.create(IDS[0], doc_id="doc1")
    doc.add_member(IDS[1].id, IDS[1].box_public)
    state = doc.state()
    assert read_invitation_state(json.dumps(state).encode()) == state
    hexkey = "ab" * 32
    for wrong, field in [
        ({**state, "owner": "alice"}, "owner"),
        ({**state, "keys": {"0": "zz" * 32}}, "keys"),
        ({**state, "keys": {"x": hexkey}}, "keys"),
        ({**state, "members": {IDS[1].id: "abcd"}}, "members"),
        ({**state, "cut": {IDS[1].id: -2}}, "cut"),
        ({**state, "epoch": 3}, "no key for its epoch 3"),
        ({k: v for k, v in state.items() if k != "members"}, "members"),
    ]:
        with pytest.raises(Rejected, match=field):
            read_invitation_state(json.dumps(wrong).encode())
    for junk in (b"", b"[1]", b"[" * 50_000, b'"x"'):
        with pytest.raises(Rejected):
            read_invitation_state(junk)
