"""Permissioned content across three peer processes (scenario 1 of the whitepaper): Alice
publishes a sealed document for Bob; Bob reads it, Carol sees only ciphertext; Alice moves
the access from Bob to Carol, and Bob cannot open the next version."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from peerkit.testing.netlab import local_agent

pytestmark = pytest.mark.libp2p
REPO = Path(__file__).resolve().parents[2]
DRAFT = {"@type": "Article", "headline": "Q3 plans", "articleBody": "acquire the moon"}
NEXT = {"@type": "Article", "headline": "Q3 plans", "articleBody": "acquire Mars instead"}


@pytest.mark.timeout(180)
async def test_readers_open_others_see_ciphertext_and_a_removed_reader_is_out():
    agents = [await local_agent(cwd=REPO) for _ in range(3)]
    try:
        alice, bob, carol = agents
        config = {"transport": "libp2p", "listen": ["/ip4/127.0.0.1/tcp/0"]}
        info = {}
        for who, agent in zip(("alice", "bob", "carol"), agents, strict=True):
            info[who] = await agent.ok("start", config={**config, "name": who})
        for agent in (bob, carol):
            await agent.ok("connect", target=info["alice"]["addrs"][0])
            await agent.ok("connect", target=info["alice"]["peer_id"])
        await carol.ok("connect", target=info["bob"]["addrs"][0])
        for agent in agents:
            await agent.ok("login", wallet=os.urandom(32).hex(), passphrase="pw")
        bob_reader = await bob.ok("sealed_reader")
        carol_reader = await carol.ok("sealed_reader")

        draft = await alice.ok(
            "sealed_publish", label="plans", document=DRAFT, readers=[bob_reader]
        )
        assert await bob.ok("sealed_read", name=draft["name"]) == DRAFT
        assert draft["name"] in (await bob.ok("sealed_me"))["names"]  # Bob's index lists it

        refused = await carol.call("sealed_read", name=draft["name"])
        assert refused["type"] == "NotAReader"
        peek = await carol.ok("sealed_peek", cid=draft["cid"], needle="acquire the moon")
        assert peek["blocks"] >= 2 and not peek["found"]  # she holds it all: ciphertext only

        entry = (await alice.ok("sealed_me"))["content"][draft["name"]]
        assert entry["sealed"] and entry["label"] == "plans"
        assert bob_reader["id"] in entry["readers"] and len(entry["readers"]) == 2  # + Alice

        moved = await alice.ok("sealed_set_readers", label="plans", readers=[carol_reader])
        assert moved["name"] == draft["name"] and moved["cid"] != draft["cid"]
        await sees(carol, moved)
        await sees(bob, moved)
        assert await carol.ok("sealed_read", name=draft["name"]) == DRAFT
        out = await bob.call("sealed_read", name=draft["name"])
        assert out["type"] == "NotAReader"
        assert draft["name"] not in (await bob.ok("sealed_me"))["names"]

        # the next version is sealed for the same readers as the last one
        later = await alice.ok(
            "sealed_publish", label="plans", document=NEXT, readers=[carol_reader]
        )
        await sees(carol, later)
        await sees(bob, later)
        assert await carol.ok("sealed_read", name=later["name"]) == NEXT
        assert (await bob.call("sealed_read", name=later["name"]))["type"] == "NotAReader"
        peek = await bob.ok("sealed_peek", cid=later["cid"], needle="Mars")
        assert not peek["found"]
    finally:
        for agent in agents:
            await agent.stop()


async def sees(agent, published: dict) -> None:
    """Until the agent's peer resolves the name to the published version (names spread by
    gossip: the peer may still hold the one before)."""
    want = f"/ipfs/{published['cid']}"
    for _ in range(200):
        if await agent.ok("name_resolve", name=published["name"]) == want:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{published['name']} never resolved to {want}")


async def test_a_public_document_in_one_call_each_way(make_nodes):
    from peerkit.naming.keys import FAST_TEST_KDF, EthereumWallet

    alice, bob = await make_nodes(2, "memory")
    session = await alice.naming.login(
        EthereumWallet(os.urandom(32)), "pw", "cms", kdf=FAST_TEST_KDF
    )
    published = await session.publish_document("about", DRAFT, push_to=[bob.peer_id])
    assert await bob.naming.read_document(published.name) == DRAFT
    assert session.me["content"][published.name] == {
        "label": "about",
        "vocab": "schema.org",
        "sealed": False,
        "readers": [],
    }
    assert published.name in session.me["names"] and "schema.org" in session.me["vocabularies"]


async def test_the_me_dag_keeps_the_apps_rendezvous_namespaces_and_topics(make_nodes):
    from peerkit.config import RendezvousConfig
    from peerkit.naming.keys import FAST_TEST_KDF, EthereumWallet

    (node,) = await make_nodes(1, "memory", rendezvous=RendezvousConfig(prefer=["cms/nodes"]))
    await node.subscribe("cms.chat")
    wallet = EthereumWallet(os.urandom(32))
    session = await node.naming.login(wallet, "pw", "cms", kdf=FAST_TEST_KDF)
    assert session.me["rendezvous"] == ["cms/nodes"] and session.me["topics"] == ["cms.chat"]
    again = await node.naming.login(wallet, "pw", "cms", kdf=FAST_TEST_KDF)  # another device
    assert again.me["rendezvous"] == ["cms/nodes"]
