"""Names end to end: publish/resolve/watch/revoke between peers, the Me DAG on a second device,
and a peer process that keeps its name logs across a restart."""

import asyncio
import time
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from peerkit.actor import Context
from peerkit.naming.keys import FAST_TEST_KDF, EthereumWallet, KeyDrift
from peerkit.naming.messages import (
    LearnRecord,
    NameHistory,
    NameRecordPublished,
    PublishRecord,
    ResolveName,
)
from peerkit.naming.records import REVOKED_VALUE, create_record, name_for, verify_record
from peerkit.testing.kit import wait_for
from tests.conftest import TRANSPORTS
from tests.integration.procs import PeerProcess

WALLET = EthereumWallet(b"\x11" * 32)


async def login(node, **kw):
    return await node.naming.login(WALLET, "open sesame", "peerkit-tests", kdf=FAST_TEST_KDF, **kw)


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_alice_publishes_and_bob_resolves_and_watches(make_nodes, kind):
    alice, bob, carol = await make_nodes(3, kind)
    session = await login(alice)
    key = session.key_for("blog")
    name = name_for(key)
    await alice.wait_for_subscribers("peerkit.names", 2)
    cid = await alice.storage.put({"post": 0})
    await alice.naming.publish(key, cid.encode())
    first = await bob.naming.resolve(name)
    assert first is not None and first.value == f"/ipfs/{cid.encode()}".encode()

    seen = []

    async def watch(node, into):
        # current=True: the watcher starts with the head it holds whenever its task first
        # runs, so nothing published before it listens is missed
        async for record in node.naming.watch(name, current=True):
            into.append(record.sequence)
            if record.sequence == 100:
                return

    watcher = asyncio.create_task(watch(bob, seen))
    heard_by_carol = asyncio.create_task(watch(carol, []))  # the same announcements
    for i in range(1, 101):
        await alice.naming.publish(key, (await alice.storage.put({"post": i})).encode())
    await asyncio.wait_for(asyncio.gather(watcher, heard_by_carol), 30)
    assert seen == sorted(set(seen)) and seen[-1] == 100
    assert (await carol.naming.resolve(name)).sequence == 100
    assert (await bob.naming.resolve(name, at=42)).sequence == 42


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_a_name_updated_faster_than_the_write_quota_loses_no_newest_version(make_nodes, kind):
    """Alice saves far faster than a peer's open-write quota (120 a minute): Bob is shown
    every version, in order, and ends on the last one. Before, each announcement past the
    quota was dropped at Bob for good, and his watchers stayed on an old version."""
    alice, bob = await make_nodes(2, kind)
    key = Ed25519PrivateKey.from_private_bytes(b"\x21" * 32)
    name = name_for(key)
    await alice.wait_for_subscribers("peerkit.names", 1)
    updates = 240  # past the burst of 200: 2 s at 20 a second
    seen: list[int] = []

    async def watch() -> None:
        async for record in bob.naming.watch(name, current=True):
            seen.append(record.sequence)
            if record.sequence == updates - 1:
                return

    watcher = asyncio.create_task(watch())
    for i in range(updates):
        raw = create_record(key, f"/ipfs/v{i}".encode(), i, now=datetime.now(UTC))
        await alice.naming.ref.ask(PublishRecord(name=name, record=raw))
    await asyncio.wait_for(watcher, 30)  # a burst of 200, then 20 a second
    assert seen == list(range(seen[0], updates))  # every version, in order
    assert (await bob.naming.resolve(name, local_only=True)).sequence == updates - 1
    assert bob.router.limited["open_writes_per_peer"] == 0  # updates are not open writes

    # first records of names Bob does not hold are new state anyone can make: charged to the
    # forwarder's quota (a burst of 120, then 2 a second) and dropped past it
    keys = [Ed25519PrivateKey.generate() for _ in range(300)]
    began = time.monotonic()
    for k in keys:
        raw = create_record(k, b"/ipfs/bafkqaaa", 0, now=datetime.now(UTC))
        await alice.naming.ref.ask(PublishRecord(name=name_for(k), record=raw))

    async def all_taken_or_refused() -> bool:
        held = [await bob.naming.resolve(name_for(k), local_only=True) for k in keys]
        refused = bob.router.limited["open_writes_per_peer"]
        return sum(r is not None for r in held) + refused == len(keys)

    await wait_for(all_taken_or_refused, timeout=20, what="every new name taken or refused")
    refused = bob.router.limited["open_writes_per_peer"]
    assert len(keys) - refused <= 120 + 2 * (time.monotonic() - began) + 2
    # a name dropped that way is still found: resolving it asks the connected peers
    dropped = [k for k in keys if await bob.naming.resolve(name_for(k), local_only=True) is None]
    assert dropped and (await bob.naming.resolve(name_for(dropped[0]))) is not None


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_a_watcher_gets_a_version_gossip_never_brought(make_nodes, kind, monkeypatch):
    """Gossip delivers a record once; one lost on the way (a connection that dropped and came
    back) must not leave a watcher on an old version: a watched name's head is asked of the
    connected peers now and then. Here Alice takes a record without announcing it at all."""
    monkeypatch.setattr("peerkit.naming.client.WATCH_REFRESH_SECONDS", 0.1)
    alice, bob = await make_nodes(2, kind)
    key = Ed25519PrivateKey.from_private_bytes(b"\x23" * 32)
    name = name_for(key)
    now = datetime.now(UTC)
    await alice.wait_for_subscribers("peerkit.names", 1)
    await alice.naming.ref.ask(
        PublishRecord(name=name, record=create_record(key, b"/a", 0, now=now))
    )
    seen = []

    async def watch() -> None:
        async for record in bob.naming.watch(name, current=True):
            seen.append(record.sequence)
            if record.sequence == 1:
                return

    watcher = asyncio.create_task(watch())
    # taken by Alice, never announced: only Bob's refresh can bring it
    await alice.naming.ref.ask(LearnRecord(name=name, record=create_record(key, b"/b", 1, now=now)))
    await asyncio.wait_for(watcher, 10)
    assert seen[-1] == 1


async def test_a_late_revocation_with_a_lower_sequence_reaches_a_watcher(make_nodes, monkeypatch):
    """A revocation voids the records after it that arrived first, so it becomes the head
    with a lower sequence than the one shown: neither the name's queue (over its rate) nor a
    watcher may take it for an old record."""
    monkeypatch.setattr("peerkit.naming.actor.ANNOUNCED_BURST", 1.0)  # the revocation waits
    (bob,) = await make_nodes(1, "memory")
    key = Ed25519PrivateKey.from_private_bytes(b"\x24" * 32)
    name = name_for(key)
    now = datetime.now(UTC)
    await bob.naming.ref.ask(LearnRecord(name=name, record=create_record(key, b"/a", 0, now=now)))
    later = create_record(key, b"/b", 5, now=now)
    revocation = create_record(key, REVOKED_VALUE, 3, now=now, revoked=True)
    stranger = Context(sender="12D3KooWstranger")
    shown = []
    listening = asyncio.Event()

    async def watch() -> None:
        async for record in bob.naming.watch(name, current=True):
            shown.append((record.sequence, record.revoked))
            listening.set()
            if record.revoked:
                return

    watcher = asyncio.create_task(watch())
    await asyncio.wait_for(listening.wait(), 5)  # it has shown 0
    for raw in (later, revocation):
        await bob.naming.ref.tell(NameRecordPublished(name=name, record=raw), stranger)
    await asyncio.wait_for(watcher, 5)
    assert shown == [(0, False), (5, False), (3, True)]
    assert (await bob.naming.resolve(name, local_only=True)).revoked


async def test_forged_and_stale_announcements_cannot_fill_a_names_queue(make_nodes, monkeypatch):
    """Records of a held name over its rate wait their turn in order; only records signed by
    the name's key and newer than those before them may wait, so a flood of forged or
    replayed ones cannot delay the real next version (2,000 waiting would take 100 s)."""
    monkeypatch.setattr("peerkit.naming.actor.ANNOUNCED_BURST", 1.0)  # the second one waits
    (bob,) = await make_nodes(1, "memory")
    key = Ed25519PrivateKey.from_private_bytes(b"\x22" * 32)
    name = name_for(key)
    now = datetime.now(UTC)
    records = [create_record(key, f"/ipfs/v{i}".encode(), i, now=now) for i in range(4)]
    await bob.naming.ref.ask(LearnRecord(name=name, record=records[0]))  # a name Bob holds
    forged = bytearray(create_record(key, b"/ipfs/forged", 9, now=now))
    forged[-1] ^= 1  # no longer signed by the name's key
    stranger = Context(sender="12D3KooWstranger")
    with bob.naming.heads.subscription(name) as arrivals:
        await bob.naming.ref.tell(NameRecordPublished(name=name, record=records[1]), stranger)
        await bob.naming.ref.tell(NameRecordPublished(name=name, record=records[2]), stranger)
        for i in range(2000):
            junk = bytes(forged) if i % 2 else records[1]  # forged, or a replay of 1
            await bob.naming.ref.tell(NameRecordPublished(name=name, record=junk), stranger)
        await bob.naming.ref.tell(NameRecordPublished(name=name, record=records[3]), stranger)
        shown = [(await asyncio.wait_for(arrivals.get(), 5)).sequence for _ in range(3)]
    assert shown == [1, 2, 3]
    assert [r.sequence for r in await bob.naming.history(name)] == [0, 1, 2, 3]


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_a_revoked_name_stays_revoked_everywhere(make_nodes, kind):
    alice, bob = await make_nodes(2, kind)
    session = await login(alice)
    key = session.key_for("old")
    name = name_for(key)
    await alice.wait_for_subscribers("peerkit.names", 1)
    await alice.naming.publish(key, "/ipfs/bafkqaaa")
    await alice.naming.revoke(key, successor="k51successor")
    for node in (alice, bob):
        for _ in range(500):
            head = await node.naming.resolve(name)
            if head is not None and head.revoked:
                break
            await asyncio.sleep(0.01)
        assert head.revoked and head.successor == "k51successor"
    # a later record, even correctly signed, is refused by every peer
    raw = create_record(key, b"/ipfs/bafkqaaa", 9, now=datetime.now(UTC))
    from peerkit.naming.log import NameRevoked

    with pytest.raises(NameRevoked):
        await bob.naming.ref.ask(PublishRecord(name=name, record=raw))


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_second_device_finds_the_me_dag(make_nodes, kind):
    laptop, phone = await make_nodes(2, kind)
    first = await login(laptop)
    await first.add_name("k51somedocument")
    second = await login(phone, check=first.master.check_value)
    assert second.me_name == first.me_name
    assert second.me["names"] == ["k51somedocument"]
    with pytest.raises(KeyDrift):
        await phone.naming.login(
            WALLET,
            "wrong passphrase",
            "peerkit-tests",
            kdf=FAST_TEST_KDF,
            check=first.master.check_value,
        )


@pytest.mark.libp2p
@pytest.mark.processes
async def test_a_peer_process_keeps_names_across_restart_and_honours_revocation(tmp_path):
    from peerkit import Node, PeerConfig

    bob = await PeerProcess(tmp_path, "bob").start()
    alice = Node(PeerConfig(name="alice"))
    await alice.start()
    try:
        session = await login(alice)
        key = session.key_for("notes")
        name = name_for(key)
        await alice.connect(bob.addr)
        await alice.wait_for_subscribers("peerkit.names", 1)
        for _ in range(5):
            await alice.naming.publish(key, "/ipfs/bafkqaaa")

        async def bob_head():
            reply = await alice.request(bob.peer_id, ResolveName(name=name, local_only=True))
            if reply.record is None:
                return None
            return verify_record(name, reply.record, now=datetime.now(UTC)).sequence

        for _ in range(500):
            if await bob_head() == 4:
                break
            await asyncio.sleep(0.01)
        assert await bob_head() == 4

        old_id = bob.peer_id
        assert await bob.terminate() == 0
        for _ in range(1000):  # alice notices the closed connection
            if old_id not in alice.peers():
                break
            await asyncio.sleep(0.01)
        bob = await PeerProcess(tmp_path, "bob").start()  # same folder: same key and store
        assert bob.peer_id == old_id
        await alice.connect(bob.addr)
        assert await bob_head() == 4  # the log survived the restart
        history = await alice.request(bob.peer_id, NameHistory(name=name))
        assert len(history.records) == 5
    finally:
        await alice.stop()
        bob.kill()
        await bob.wait_killed()
