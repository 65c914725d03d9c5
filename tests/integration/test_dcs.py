"""Three people on three peers edit one document (memory and real libp2p)."""

import asyncio

import msgspec
import pytest

from peerkit.dcs.crypto import Identity
from peerkit.dcs.extension import DcsExtension
from peerkit.testing import wait_for
from tests.conftest import TRANSPORTS


async def setup(make_nodes, kind):
    alice, bob, carol = await make_nodes(3, kind)
    for node, seed in ((alice, 1), (bob, 2), (carol, 3)):
        await node.dcs.use_identity(Identity.from_seed(bytes([seed]) * 32))
    await alice.wait_for_subscribers("peerkit.dcs", 2)
    doc = await alice.dcs.create()
    for other in (bob, carol):
        await alice.dcs.invite(doc, other.dcs.card())  # waits for the invitee's inbox topic
    for other in (bob, carol):
        await other.dcs.wait_for(doc, lambda t: True)  # the invitation arrived and was accepted
    return alice, bob, carol, doc


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_concurrent_edits_converge(make_nodes, kind):
    alice, bob, carol, doc = await setup(make_nodes, kind)
    await alice.dcs.insert(doc, 0, "Alice ")
    await bob.dcs.insert(doc, 0, "Bob ")
    await carol.dcs.insert(doc, 0, "Carol ")
    texts = [await n.dcs.wait_for(doc, lambda t: len(t) == 16) for n in (alice, bob, carol)]
    assert len(set(texts)) == 1 and sorted(texts[0].split()) == ["Alice", "Bob", "Carol"]


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_offline_edits_merge_on_reconnect(make_nodes, kind):
    alice, bob, carol, doc = await setup(make_nodes, kind)
    await alice.dcs.insert(doc, 0, "base ")
    await carol.dcs.wait_for(doc, lambda t: t == "base ")
    await carol.transport.disconnect(alice.peer_id)  # carol goes offline (alice is her only link)
    await carol.dcs.insert(doc, 5, "carol-offline ")
    await alice.dcs.insert(doc, 0, "alice-online ")
    await carol.connect(alice.addrs()[0])  # back: catch-up runs both ways
    want = lambda t: "carol-offline" in t and "alice-online" in t  # noqa: E731
    texts = [await n.dcs.wait_for(doc, want) for n in (alice, bob, carol)]
    assert len(set(texts)) == 1


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_revoked_member_reads_nothing_new_and_is_ignored(make_nodes, kind):
    alice, bob, carol, doc = await setup(make_nodes, kind)
    await alice.dcs.insert(doc, 0, "before ")
    await bob.dcs.wait_for(doc, lambda t: t == "before ")
    await carol.dcs.wait_for(doc, lambda t: t == "before ")
    await alice.dcs.revoke(doc, bob.dcs.me.id)
    await carol.dcs.wait_for(doc, lambda t: carol.dcs.doc(doc).epoch == 1)
    for i in range(100):
        await alice.dcs.insert(doc, len(alice.dcs.text(doc)), f"{i} ")
    final = await carol.dcs.wait_for(doc, lambda t: t.endswith("99 "))
    assert final.startswith("before 0 1 2")
    assert bob.dcs.text(doc) == "before "  # decrypted none of the 100
    bob_shelf = bob.extension(DcsExtension).shelf
    await wait_for(lambda: bob_shelf.rejected >= 100, what="bob to reject all 100 updates")
    await bob.dcs.insert(doc, 0, "bob-after-revoke ")  # Bob still writes locally...
    await alice.dcs.insert(doc, 0, "x")
    await carol.dcs.wait_for(doc, lambda t: t.startswith("x"))
    assert "bob-after-revoke" not in carol.dcs.text(doc)  # ...honest peers ignore it
    assert "bob-after-revoke" not in alice.dcs.text(doc)


@pytest.mark.libp2p
@pytest.mark.processes
async def test_three_peer_processes_edit_merge_offline_and_revoke(tmp_path):
    """Three peer processes, driven with dcs.* control requests (as the CLI does)."""
    from peerkit import Node, PeerConfig
    from peerkit.dcs.messages import EditDoc, GetCard, InviteMember, NewDoc, RevokeMember, ShowDoc
    from tests.integration.procs import PeerProcess

    def proc(name, bootstrap=()):
        p = PeerProcess(tmp_path, name, bootstrap=bootstrap)
        p.config.write_text(p.config.read_text() + "dcs: {remote_control: true}\n")
        return p

    alice = await proc("alice").start()
    bob = await proc("bob", [alice.addr]).start()
    carol = await proc("carol", [alice.addr]).start()
    ctl = Node(PeerConfig(name="ctl"))
    await ctl.start()

    async def show(p):
        return await ctl.request(p.peer_id, ShowDoc(doc=doc))

    async def until_text(p, pred, what):
        for _ in range(400):
            try:
                t = (await show(p)).text
                if pred(t):
                    return t
            except Exception:
                pass
            await asyncio.sleep(0.05)
        raise AssertionError(f"{p.name}: {what}")

    import asyncio

    try:
        for p in (alice, bob, carol):
            await ctl.connect(p.addr)
        doc = (await ctl.request(alice.peer_id, NewDoc())).doc
        cards = {p.name: await ctl.request(p.peer_id, GetCard()) for p in (bob, carol)}
        for name in ("bob", "carol"):
            await ctl.request(alice.peer_id, InviteMember(doc=doc, card=cards[name]))
        for p in (bob, carol):
            await until_text(p, lambda t: True, "the invitation")
        await asyncio.gather(
            *(
                ctl.request(p.peer_id, EditDoc(doc=doc, index=0, text=p.name + " "))
                for p in (alice, bob, carol)
            )
        )
        texts = [
            await until_text(p, lambda t: len(t.split()) == 3, "convergence")
            for p in (alice, bob, carol)
        ]
        assert len(set(texts)) == 1

        # carol goes offline (stops), edits are made meanwhile, she comes back and merges
        assert await carol.terminate() == 0
        await ctl.request(alice.peer_id, EditDoc(doc=doc, index=0, text="while-carol-away "))
        carol = await proc("carol", [alice.addr]).start()  # same folder: her saved document
        await ctl.connect(carol.addr)
        await until_text(carol, lambda t: "while-carol-away" in t, "carol to merge on return")

        await ctl.request(alice.peer_id, RevokeMember(doc=doc, member=cards["bob"].id))
        await until_text(carol, lambda t: True, "the refresh")
        for _ in range(200):
            if (await show(carol)).epoch == 1:
                break
            await asyncio.sleep(0.05)
        before = (await show(bob)).text
        for i in range(100):
            await ctl.request(alice.peer_id, EditDoc(doc=doc, index=0, text=f"<{i}>"))
        await until_text(carol, lambda t: "<99>" in t, "carol to get all 100")
        assert (await show(bob)).text == before  # bob decrypted none of them
        await ctl.request(bob.peer_id, EditDoc(doc=doc, index=0, text="bob-late "))
        await ctl.request(alice.peer_id, EditDoc(doc=doc, index=0, text="end "))
        final = await until_text(carol, lambda t: t.startswith("end "), "the last edit")
        assert "bob-late" not in final
    finally:
        await ctl.stop()
        for p in (alice, bob, carol):
            p.kill()
            await p.wait_killed()


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_streams_are_named_blocks_any_member_can_resolve(make_nodes, kind):
    from peerkit.dcs.doc import SharedDoc
    from peerkit.naming.records import name_for

    alice, _bob, carol, doc = await setup(make_nodes, kind)
    await alice.dcs.insert(doc, 0, "named stream")
    await carol.dcs.wait_for(doc, lambda t: t == "named stream")
    alice_id = alice.dcs.me.id
    name = name_for(carol.dcs.doc(doc).stream_key(alice_id))  # carol derives alice's name
    # a fresh copy of the document, rebuilt only from what alice's stream name points at
    copy = SharedDoc(doc, carol.dcs.me, alice_id)
    copy.adopt(carol.dcs.doc(doc).state())  # not on the shelf: no live updates reach it
    actor = carol.supervisor.instance(carol.actor("dcs"))
    for _ in range(500):  # alice names her stream's head after each burst of edits
        await actor.catch_up_by_names(copy)
        if copy.content() == "named stream":
            break
        await asyncio.sleep(0.02)
    assert copy.content() == "named stream"
    assert (await carol.naming.resolve(name)) is not None


async def test_bad_commands_get_typed_errors_and_the_actor_keeps_running(make_nodes):
    from peerkit.dcs.crypto import DcsError
    from peerkit.dcs.messages import DocCard, EditDoc, InviteMember

    (alice,) = await make_nodes(1, "memory")
    doc = await alice.dcs.create()
    ref = alice.actor("dcs")
    with pytest.raises(DcsError, match="outside the text"):
        await ref.ask(EditDoc(doc=doc, index=99, text="x"))
    with pytest.raises(DcsError, match="64 hex digits"):
        await ref.ask(InviteMember(doc=doc, card=DocCard(id="zz", box="not hex")))
    with pytest.raises(DcsError, match="no document"):
        await ref.ask(EditDoc(doc="nope", index=0, text="x"))
    assert alice.supervisor.restarts(ref) == 0


async def test_a_wallet_identity_finds_its_documents_after_a_restart(tmp_path):
    """Documents saved under node.dcs.use_identity(...) load when that identity is set again
    (before: loading ran at start under the default identity and failed)."""
    from peerkit import Node, PeerConfig
    from peerkit.config import StorageConfig

    config = PeerConfig(
        name="w",
        transport="memory",
        storage=StorageConfig(backend="sqlite", path=str(tmp_path / "w.db")),
    )
    wallet = Identity.from_seed(b"\x07" * 32)
    async with Node(config) as node:
        await node.dcs.use_identity(wallet)
        doc = await node.dcs.create()
        await node.dcs.insert(doc, 0, "kept across restarts")
    async with Node(config) as node:
        with pytest.raises(Exception, match="no document"):
            node.dcs.doc(doc)  # the default identity cannot open it
        await node.dcs.use_identity(wallet)
        assert node.dcs.text(doc) == "kept across restarts"


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_a_peer_cannot_send_a_local_command(make_nodes, kind):
    """UseIdentity carries private keys: it is never routed, whatever the config says."""
    from peerkit import NoHandler
    from peerkit.config import DcsConfig
    from peerkit.dcs.messages import Transact, UseIdentity
    from peerkit.naming.messages import LearnRecord

    a, b = await make_nodes(2, kind, dcs=DcsConfig(remote_control=True))
    with pytest.raises(NoHandler):
        await b.request(a.peer_id, UseIdentity(signing=b"\x01" * 32, box=b"\x02" * 32))
    with pytest.raises(NoHandler):
        await b.request(a.peer_id, LearnRecord(name="x", record=b"y"))
    with pytest.raises(NoHandler):
        await b.request(a.peer_id, Transact(doc="x", change=None))


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_a_shared_todo_list(make_nodes, kind):
    """Structured documents: pycrdt's Array and Map through node.dcs.transact, one update per
    transaction, change events on the other peers."""
    from pycrdt import Array, Map

    from peerkit.dcs.crypto import DcsError

    alice, bob, carol, doc = await setup(make_nodes, kind)

    def add(title: str):
        def change(d):
            item = Map({"title": title, "done": False})
            d.get("todos", type=Array).append(item)

        return change

    told = []

    async def watch():
        async for shared in carol.dcs.changes(doc):
            told.append(shared)

    watcher = asyncio.create_task(watch())
    shelf = carol.extension(DcsExtension).shelf
    await wait_for(lambda: shelf.changes.watching(doc), what="carol's watcher")
    await alice.dcs.transact(doc, add("milk"))
    await bob.dcs.transact(doc, add("eggs"))

    def titles(node) -> list[str]:
        return sorted(t["title"] for t in node.dcs.shared(doc).get("todos", type=Array))

    # (each peer gets the other's item on its own schedule: wait for all three)
    for node in (carol, alice, bob):
        await wait_for(lambda n=node: titles(n) == ["eggs", "milk"], what="both items everywhere")
    await wait_for(lambda: told, what="carol to be told of the changes")
    watcher.cancel()

    def tick(d):  # mark "milk" done
        for item in d.get("todos", type=Array):
            if item["title"] == "milk":
                item["done"] = True

    await bob.dcs.transact(doc, tick)
    await wait_for(
        lambda: (
            [
                t["done"]
                for t in alice.dcs.shared(doc).get("todos", type=Array)
                if t["title"] == "milk"
            ]
            == [True]
        ),
        what="the tick at alice",
    )

    def broken(d):
        d.get("todos", type=Array).append(Map({"title": "half"}))
        raise ValueError("oops")

    with pytest.raises(DcsError, match="undone"):
        await alice.dcs.transact(doc, broken)
    assert titles(alice) == ["eggs", "milk"]  # nothing of the failed change is kept
    assert alice.dcs.text(doc) == ""  # the text helpers still work beside the shared types


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_a_strangers_malformed_invitations_are_rejected_and_the_actor_keeps_running(
    make_nodes, kind
):
    import os

    from peerkit.dcs.actor import _context
    from peerkit.dcs.crypto import seal
    from peerkit.dcs.messages import DcsEnvelope

    mallory, bob = await make_nodes(2, kind)
    await mallory.dcs.use_identity(Identity.from_seed(b"\x09" * 32))
    await bob.dcs.use_identity(Identity.from_seed(b"\x02" * 32))
    card, me = bob.dcs.card(), mallory.dcs.me
    # sealed and signed by a real peer, so only what is inside is wrong
    plaintexts = [
        b"not json",
        b"[1]",
        b'"a string"',
        b'{"doc": "d1"}',
        b'{"doc": "d1", "owner": 5, "members": 3}',
        b'{"doc": "d1", "owner": "x", "members": {"x": 1}, "epochs": "no"}',
        b'{"doc": "d1", "owner": "%s", "epoch": 0, "keys": {"0": "abcd"}, "members": {}, '
        b'"cut": {}}' % (b"a" * 64),  # a key of 2 bytes
        b"[" * 60_000,  # past the recursion limit of the JSON reader
    ]
    for plaintext in plaintexts:
        draft = DcsEnvelope(
            kind="invite",
            envelope_id=os.urandom(16),
            doc="d1",
            to=card["id"],
            sender=me.id,
            sealed=b"",
        )
        sealed = seal(me, bytes.fromhex(card["box"]), _context(draft), plaintext)
        await mallory.send(bob.peer_id, msgspec.structs.replace(draft, sealed=sealed))
    shelf = bob.extension(DcsExtension).shelf
    await wait_for(lambda: shelf.rejected == len(plaintexts))
    assert "d1" not in shelf.docs and bob.supervisor.restarts(bob.actor("dcs")) == 0
    doc = await mallory.dcs.create()  # a real invitation from the same peer still works
    await mallory.dcs.invite(doc, card)
    await bob.dcs.wait_for(doc, lambda t: True)


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_only_the_owner_invites_or_refreshes_keys(make_nodes, kind):
    import json
    import os

    from peerkit.dcs.actor import _context
    from peerkit.dcs.crypto import seal
    from peerkit.dcs.messages import DcsEnvelope

    alice, bob, carol, doc = await setup(make_nodes, kind)
    bob_card, carol_me = bob.dcs.card(), carol.dcs.me
    shelf = bob.extension(DcsExtension).shelf

    def forged(kind: str, doc_id: str, state: dict) -> DcsEnvelope:
        draft = DcsEnvelope(
            kind=kind,
            envelope_id=os.urandom(16),
            doc=doc_id,
            to=bob_card["id"],
            sender=carol_me.id,
            sealed=b"",
        )
        plain = json.dumps(state).encode()
        sealed = seal(carol_me, bytes.fromhex(bob_card["box"]), _context(draft), plain)
        return msgspec.structs.replace(draft, sealed=sealed)

    # carol, a member, claims alice's document, with keys of her own choosing
    taken = {**carol.dcs.doc(doc).state(), "owner": carol_me.id, "keys": {"0": "ab" * 32}}
    # ... and invites bob to a new document naming alice as its owner
    other = {**taken, "doc": "d2", "owner": alice.dcs.me.id}
    before = shelf.rejected
    for envelope in (forged("invite", doc, taken), forged("refresh", doc, taken)):
        await carol.send(bob.peer_id, envelope)
    await carol.send(bob.peer_id, forged("invite", "d2", other))
    await wait_for(lambda: shelf.rejected == before + 3)
    held = bob.dcs.doc(doc)
    assert held.owner == alice.dcs.me.id and held.epoch_keys[0] != bytes.fromhex("ab" * 32)
    assert "d2" not in shelf.docs  # a refused invitation leaves nothing behind
    await alice.dcs.insert(doc, 0, "still alice's ")  # and the document works on
    await bob.dcs.wait_for(doc, lambda t: t.startswith("still alice's "))
